/**
 * A queued message's life after smtpd: deliveries by lmtp (to the platform's LMTP router), smtp (to the outbound
 * pool or a remote MX) or error, deferrals and retries, bounce notifications, expiry, and qmgr's `removed`.
 */
import type { LogEvent } from './kinds.ts';
import { delays, dovecotId, LOCAL_DOMAIN, messageSize, peer, remoteMx, tlsParameters } from './people.ts';
import type { Random } from './random.ts';
import { event, type Accepted, type Cast, type Instance } from './sessions.ts';

/** Where a message goes: the LMTP router (local recipients), the outbound pool, or a remote MX (from the pool). */
export type Route = 'lmtp' | 'mailout' | 'internet';

const r2 = (rng: Random, min: number, max: number) => Math.round(rng.logUniform(min, max) * 100) / 100;

function deliveryLine(inst: Instance, program: string, pid: number, qid: string, rcpt: string, relay: string, stages: [number, number, number, number], dsn: string, status: string, text: string): LogEvent {
  return event(inst, program, pid, `${qid}: to=<${rcpt}>, relay=${relay}, ${delays(stages)}, dsn=${dsn}, status=${status} (${text})`, 'delivery', { transport: program, status });
}

/** One attempt for one recipient; `retry` makes the queue stage long (the message waited in the deferred queue). */
function attempt(c: Cast, inst: Instance, qid: string, rcpt: string, route: Route, outcome: 'sent' | 'deferred' | 'bounced', retry: boolean): LogEvent[] {
  const { rng } = c;
  const before = retry ? rng.int(300, 7200) : r2(rng, 0.01, 2);
  const inQmgr = r2(rng, 0.001, 0.3);
  if (route === 'lmtp') {
    const pid = rng.pick(inst.lmtp);
    const relay = peer(rng, 'proxy', 24);
    const host = relay.slice(0, relay.lastIndexOf(':'));
    const t: [number, number, number, number] = [before, inQmgr, r2(rng, 0.001, 0.05), r2(rng, 0.005, 0.8)];
    if (outcome === 'sent') return [deliveryLine(inst, 'lmtp', pid, qid, rcpt, relay, t, '2.0.0', 'sent', `250 2.0.0 <${rcpt}> ${dovecotId(rng)} Saved`)];
    if (outcome === 'bounced') return [deliveryLine(inst, 'lmtp', pid, qid, rcpt, relay, t, '5.2.2', 'bounced', `host ${host} said: 552 5.2.2 <${rcpt}> Quota exceeded (mailbox for user is full) (in reply to end of DATA command)`)];
    if (rng.chance(0.5)) return [deliveryLine(inst, 'lmtp', pid, qid, rcpt, 'none', [before, inQmgr, 0.01, 0], '4.4.1', 'deferred', `connect to ${relay}: Connection refused`)];
    return [deliveryLine(inst, 'lmtp', pid, qid, rcpt, relay, t, '4.2.0', 'deferred', `host ${host} said: 451 4.2.0 <${rcpt}> Temporary failure, try again later (in reply to end of DATA command)`)];
  }
  const pid = rng.pick(inst.smtp);
  if (route === 'mailout') {
    const relay = peer(rng, 'mailout', 25);
    const t: [number, number, number, number] = [before, inQmgr, r2(rng, 0.001, 0.1), r2(rng, 0.01, 1)];
    if (outcome === 'sent') return [deliveryLine(inst, 'smtp', pid, qid, rcpt, relay, t, '2.0.0', 'sent', `250 2.0.0 Ok: queued as ${c.nextQueueId()}`)];
    return [deliveryLine(inst, 'smtp', pid, qid, rcpt, 'none', [before, inQmgr, 0.01, 0], '4.4.1', 'deferred', `connect to ${relay}: Connection refused`)];
  }
  const mx = remoteMx(rng);
  const out: LogEvent[] = [];
  if (rng.chance(0.6)) {
    const p = tlsParameters(rng);
    out.push(event(inst, 'smtp', pid, `${rng.pick(['Verified', 'Trusted', 'Untrusted', 'Anonymous'])} TLS connection established to ${mx}:25: ${p.text}`, 'smtp_tls'));
  }
  const t: [number, number, number, number] = [before, inQmgr, r2(rng, 0.05, 2), r2(rng, 0.1, 8)];
  if (outcome === 'sent') out.push(deliveryLine(inst, 'smtp', pid, qid, rcpt, `${mx}:25`, t, '2.0.0', 'sent', rng.chance(0.5) ? `250 2.0.0 OK  ${rng.int(1.7e9, 1.8e9)} ${dovecotId(rng)}.123 - gsmtp` : `250 2.0.0 Ok: queued as ${c.nextQueueId()}`));
  else if (outcome === 'bounced') out.push(deliveryLine(inst, 'smtp', pid, qid, rcpt, `${mx}:25`, t, '5.1.1', 'bounced', `host ${mx} said: 550 5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)`));
  else if (rng.chance(0.5)) out.push(deliveryLine(inst, 'smtp', pid, qid, rcpt, `${mx}:25`, t, '4.7.1', 'deferred', `host ${mx} said: 450 4.7.1 <${rcpt}>: Recipient address rejected: Greylisted, see https://greylist.example/ (in reply to RCPT TO command)`));
  else {
    out.push(event(inst, 'smtp', pid, `connect to ${mx}:25: Connection timed out`, 'smtp_timeout'));
    out.push(deliveryLine(inst, 'smtp', pid, qid, rcpt, 'none', [before, inQmgr, 30, 0], '4.4.1', 'deferred', `connect to ${mx}:25: Connection timed out`));
  }
  return out;
}

/**
 * The sender's non-delivery notification: cleanup writes a new message, bounce names it, qmgr queues it, it is
 * delivered to the sender (here, or through the outbound pool) and removed. Nothing for a null sender.
 */
export function bounceNotice(c: Cast, inst: Instance, qid: string, sender: string): LogEvent[] {
  if (sender === '') return [];
  const { rng } = c;
  const notice = c.nextQueueId();
  const size = Math.round(rng.logUniform(2000, 12000));
  const route: Route = sender.endsWith(`@${LOCAL_DOMAIN}`) ? 'lmtp' : 'mailout';
  return [
    event(inst, 'cleanup', rng.pick(inst.cleanup), `${notice}: message-id=<${rng.int(2e13, 3e13)}.${notice}@mail.${LOCAL_DOMAIN}>`, 'cleanup_message_id'),
    event(inst, 'bounce', rng.pick(inst.bounce), `${qid}: sender non-delivery notification: ${notice}`, 'bounce_notification'),
    event(inst, 'qmgr', inst.qmgr, `${notice}: from=<>, size=${size}, nrcpt=1 (queue active)`, 'qmgr_inserted', { size, nrcpt: 1 }),
    ...attempt(c, inst, notice, sender, route, 'sent', false),
    event(inst, 'qmgr', inst.qmgr, `${notice}: removed`, 'qmgr_removed'),
  ];
}

/**
 * Every recipient's delivery: most are sent, some deferred (then qmgr takes the message up again and the retry
 * is sent), some bounced (then one notification to the sender); qmgr's `removed` ends it.
 */
export function deliver(c: Cast, inst: Instance, m: Accepted, route: Route): LogEvent[] {
  const { rng } = c;
  const out: LogEvent[] = [...m.queued];
  const deferred: string[] = [];
  let bounced = false;
  for (const rcpt of m.rcpts) {
    const outcome = rng.weighted({ sent: 0.92, deferred: 0.05, bounced: 0.03 });
    out.push(...attempt(c, inst, m.qid, rcpt, route, outcome, false));
    if (outcome === 'deferred') deferred.push(rcpt);
    if (outcome === 'bounced') bounced = true;
  }
  if (deferred.length > 0) {
    out.push(event(inst, 'qmgr', inst.qmgr, `${m.qid}: from=<${m.from}>, size=${m.size}, nrcpt=${m.rcpts.length} (queue active)`, 'qmgr_inserted', { size: m.size, nrcpt: m.rcpts.length }));
    for (const rcpt of deferred) out.push(...attempt(c, inst, m.qid, rcpt, route, 'sent', true));
  }
  if (bounced) out.push(...bounceNotice(c, inst, m.qid, m.from));
  out.push(event(inst, 'qmgr', inst.qmgr, `${m.qid}: removed`, 'qmgr_removed'));
  return out;
}

/**
 * A message that never got through: qmgr takes it up, every attempt is deferred, its lifetime runs out
 * (`status=expired, returned to sender`), the sender is told and the message removed.
 */
export function expire(c: Cast, inst: Instance, from: string, rcpt: string): LogEvent[] {
  const { rng } = c;
  const qid = c.nextQueueId();
  const size = messageSize(rng);
  const out: LogEvent[] = [];
  for (let i = rng.int(1, 3); i > 0; i--) {
    out.push(event(inst, 'qmgr', inst.qmgr, `${qid}: from=<${from}>, size=${size}, nrcpt=1 (queue active)`, 'qmgr_inserted', { size, nrcpt: 1 }));
    out.push(...attempt(c, inst, qid, rcpt, 'internet', 'deferred', true));
  }
  out.push(event(inst, 'qmgr', inst.qmgr, `${qid}: from=<${from}>, status=expired, returned to sender`, 'qmgr_expired'));
  out.push(...bounceNotice(c, inst, qid, from));
  out.push(event(inst, 'qmgr', inst.qmgr, `${qid}: removed`, 'qmgr_removed'));
  return out;
}

/** Mail the error transport refuses or holds (an alias to nowhere; a suspended transport while a peer restarts). */
export function errorTransport(c: Cast, inst: Instance, m: Accepted): LogEvent[] {
  const { rng } = c;
  const pid = rng.pick(inst.error);
  const rcpt = m.rcpts[0] ?? `postmaster@${LOCAL_DOMAIN}`;
  const t: [number, number, number, number] = [r2(rng, 0.01, 1), r2(rng, 0.001, 0.1), 0, 0];
  const line = rng.chance(0.5)
    ? deliveryLine(inst, 'error', pid, m.qid, rcpt, 'none', t, '5.1.1', 'bounced', 'User unknown in virtual alias table')
    : deliveryLine(inst, 'error', pid, m.qid, rcpt, 'none', t, '4.4.1', 'deferred', `delivery temporarily suspended: connect to ${peer(rng, 'proxy', 24)}: Connection refused`);
  const out = [...m.queued, line];
  if (line.status === 'bounced') out.push(...bounceNotice(c, inst, m.qid, m.from));
  else {
    out.push(event(inst, 'qmgr', inst.qmgr, `${m.qid}: from=<${m.from}>, size=${m.size}, nrcpt=1 (queue active)`, 'qmgr_inserted', { size: m.size, nrcpt: 1 }));
    out.push(...attempt(c, inst, m.qid, rcpt, 'lmtp', 'sent', true));
  }
  out.push(event(inst, 'qmgr', inst.qmgr, `${m.qid}: removed`, 'qmgr_removed'));
  return out;
}
