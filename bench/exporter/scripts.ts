/**
 * The stories a generated log tells, each a list of events in its own order (the generator interleaves many at
 * a time): inbound mail on the MTA, rejects at every stage, submission with and without a valid login, the
 * outbound pool, a second Postfix instance (`postfix-mx/…`), expiry, and lines no metric counts.
 */
import type { LogEvent } from './kinds.ts';
import { client, foreignAddress, loginChallenge, localAddress, peer } from './people.ts';
import { deliver, errorTransport, expire } from './queue.ts';
import type { Random } from './random.ts';
import { event, interleave, open, reject, transaction, type Cast, type Instance, type Session } from './sessions.ts';

/** How often each story starts, relative to the others. */
export const STORY_WEIGHTS = {
  inbound: 30, rejected: 20, submission: 8, loginFailure: 6, outbound: 10, mxInbound: 6, mxRejected: 4,
  dropped: 5, cleanupReject: 1, errorTransport: 1, expired: 0.6, other: 8,
} as const;
export type Story = keyof typeof STORY_WEIGHTS;

function recipients(rng: Random, make: (rng: Random) => string): string[] {
  const n = rng.chance(0.8) ? 1 : rng.chance(0.9) ? rng.int(2, 5) : rng.int(6, 40);
  return Array.from({ length: n }, () => make(rng));
}

/** The session's tail (quit, disconnect) goes on while its message is delivered. */
function finish(c: Cast, s: Session, queue: LogEvent[]): LogEvent[] {
  s.cmd('quit');
  return [...s.events, ...interleave(c.rng, [s.disconnect()], queue)];
}

/** Mail from the Internet for local accounts: most sessions use STARTTLS; one in ten carries a second message or an unknown recipient. */
function inbound(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const s = open(c, inst, 'smtpd');
  s.greet(rng.chance(0.7));
  const queue: LogEvent[] = [];
  for (let n = rng.chance(0.1) ? 2 : 1; n > 0; n--) {
    const m = transaction(c, s, foreignAddress(rng), recipients(rng, localAddress), rng.chance(0.1) ? { unknownRcpt: localAddress(rng) } : {});
    s.events.push(...m.queued.splice(0));
    queue.push(...deliver(c, inst, { ...m, queued: [] }, 'lmtp'));
  }
  return finish(c, s, queue);
}

const RCPT_REPLIES = [
  (to: string) => `550 5.1.1 <${to}>: Recipient address rejected: User unknown in virtual mailbox table`,
  (to: string) => `554 5.7.1 <${to}>: Relay access denied`,
  (to: string) => `450 4.1.8 <${to}>: Sender address rejected: Domain not found`,
  () => '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname',
  (to: string) => `452 4.5.3 <${to}>: Recipient address rejected: Too many recipients`,
];

/**
 * A refused session. With `smtpd_delay_reject` (the platform's MTA) refusals come at RCPT; the second instance
 * refuses at CONNECT, HELO/EHLO and MAIL too. DATA and END-OF-MESSAGE refusals carry the queue id.
 */
function rejected(c: Cast, inst: Instance, early: boolean): LogEvent[] {
  const { rng } = c;
  const stage = rng.weighted(early
    ? { CONNECT: 2, HELO: 1, EHLO: 2, MAIL: 2, RCPT: 6, DATA: 1, 'END-OF-MESSAGE': 1 }
    : { CONNECT: 0, HELO: 0, EHLO: 0, MAIL: 1, RCPT: 12, DATA: 1, 'END-OF-MESSAGE': 1 });
  const s = open(c, inst, 'smtpd');
  const from = rng.chance(0.1) ? '' : foreignAddress(rng);
  const to = rng.chance(0.5) ? localAddress(rng) : foreignAddress(rng);
  if (stage === 'CONNECT') {
    reject(s, 'NOQUEUE', 'CONNECT', `554 5.7.1 <${s.client.text}>: Client host rejected: Access denied`, { proto: 'SMTP' });
  } else if (stage === 'HELO' || stage === 'EHLO') {
    s.cmd(stage.toLowerCase(), false);
    reject(s, 'NOQUEUE', stage, `504 5.5.2 <${s.helo}>: Helo command rejected: need fully-qualified hostname`, { proto: stage === 'HELO' ? 'SMTP' : 'ESMTP' });
  } else {
    s.greet(rng.chance(0.5));
    if (stage === 'MAIL') {
      s.cmd('mail', false);
      reject(s, 'NOQUEUE', 'MAIL', `553 5.7.1 <${from}>: Sender address rejected: not logged in`, { from });
    } else if (stage === 'RCPT') {
      s.cmd('mail');
      for (let n = rng.chance(0.85) ? 1 : rng.int(2, 6); n > 0; n--) {
        const rcpt = rng.chance(0.5) ? localAddress(rng) : foreignAddress(rng);
        s.cmd('rcpt', false);
        reject(s, 'NOQUEUE', 'RCPT', rng.pick(RCPT_REPLIES)(rcpt), { from, to: rcpt });
      }
      if (rng.chance(0.5)) s.cmd('rset');
    } else {
      const m = transaction(c, s, from, [to], { refused: true });
      if (stage === 'DATA') {
        reject(s, m.qid, 'DATA', '550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce', { from, to });
      } else {
        s.events.push(m.queued[0] as LogEvent);
        reject(s, m.qid, 'END-OF-MESSAGE', '554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Message content rejected by policy', { from, to });
      }
    }
  }
  return finish(c, s, []);
}

/** An authenticated submission (587 with STARTTLS, or 465 with implicit TLS) to local or foreign recipients. */
function submission(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const wrapper = rng.chance(0.3);
  const s = open(c, inst, wrapper ? 'submissions/smtpd' : 'submission/smtpd', wrapper);
  s.greet(!wrapper);
  s.cmd('auth');
  const user = localAddress(rng);
  const local = rng.chance(0.3);
  const m = transaction(c, s, user, recipients(rng, local ? localAddress : foreignAddress), { sasl: { method: rng.pick(['PLAIN', 'PLAIN', 'LOGIN']), user } });
  return finish(c, s, deliver(c, inst, m, local ? 'lmtp' : 'mailout'));
}

/** Failed logins on the submission ports: one to a few, then the client gives up, is cut off, or quits. */
function loginFailure(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const wrapper = rng.chance(0.3);
  const s = open(c, inst, wrapper ? 'submissions/smtpd' : 'submission/smtpd', wrapper);
  s.greet(!wrapper);
  const tries = rng.int(1, 3);
  for (let i = 0; i < tries; i++) {
    s.cmd('auth', false);
    const method = rng.pick(['LOGIN', 'PLAIN']);
    const reason = method === 'LOGIN' ? loginChallenge(rng) : rng.pick(['authentication failure', '(reason unavailable)']);
    s.say(`warning: ${s.client.text}: SASL ${method} authentication failed: ${reason}, sasl_username=${rng.chance(0.7) ? localAddress(rng) : 'admin'}`, 'smtpd_sasl_failure');
  }
  const end = rng.weighted({ lost: 5, errors: 2, quit: 3 });
  if (end === 'lost') s.say(`lost connection after AUTH from ${s.client.text}`, 'smtpd_lost', { stage: 'AUTH' });
  if (end === 'errors') s.say(`too many errors after AUTH from ${s.client.text}`, 'other');
  if (end === 'quit') s.cmd('quit');
  return [...s.events, s.disconnect()];
}

/** The outbound pool: the MTA hands a message over (`postfix/mailout/smtpd`) and smtp takes it to the remote MX. */
function outbound(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const host = peer(rng, 'mta', 25);
  const address = host.slice(host.indexOf('[') + 1, host.indexOf(']'));
  const s = open(c, inst, 'mailout/smtpd', false, { name: host.slice(0, host.indexOf('[')), address, text: host.slice(0, host.lastIndexOf(':')) });
  s.greet(rng.chance(0.5));
  const m = transaction(c, s, rng.chance(0.7) ? localAddress(rng) : foreignAddress(rng), recipients(rng, foreignAddress));
  return finish(c, s, deliver(c, inst, m, 'internet'));
}

/** Sessions that end badly: the client vanishes (after any stage; DATA with its byte count) or times out. */
function dropped(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const s = open(c, inst, rng.chance(0.8) ? 'smtpd' : 'submission/smtpd');
  const stage = rng.weighted({ CONNECT: 4, EHLO: 3, STARTTLS: 2, MAIL: 1, RCPT: 2, DATA: 2, UNKNOWN: 1 });
  if (stage !== 'CONNECT' && stage !== 'UNKNOWN') s.cmd('ehlo');
  if (stage === 'STARTTLS') s.cmd('starttls');
  if (stage === 'UNKNOWN') s.cmd('unknown', false);
  if (stage === 'MAIL' || stage === 'RCPT' || stage === 'DATA') s.cmd('mail');
  if (stage === 'RCPT' || stage === 'DATA') s.cmd('rcpt');
  if (stage === 'DATA') s.cmd('data', false);
  const what = rng.chance(0.8) ? 'lost connection' : 'timeout';
  const after = stage === 'DATA' ? `DATA (${rng.int(0, 90000)} bytes)` : stage;
  s.say(`${what} after ${after} from ${s.client.text}`, what === 'timeout' ? 'other' : 'smtpd_lost', { stage });
  return [...s.events, s.disconnect()];
}

/** header_checks refuses a message in cleanup; smtpd answers DATA with the refusal. */
function cleanupReject(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const s = open(c, inst, 'smtpd');
  s.greet(rng.chance(0.7));
  const m = transaction(c, s, foreignAddress(rng), [localAddress(rng)], { refused: true });
  s.events.push(event(inst, 'cleanup', rng.pick(inst.cleanup), `${m.qid}: reject: header Subject: =?UTF-8?B?V2luIGEgcHJpemU=?= from ${s.client.text}; from=<${m.from}> to=<${m.rcpts[0] ?? ''}> proto=ESMTP helo=<${s.helo}>: 5.7.1 Message content rejected`, 'cleanup_reject'));
  return finish(c, s, []);
}

function errorStory(c: Cast, inst: Instance): LogEvent[] {
  const { rng } = c;
  const s = open(c, inst, 'smtpd');
  s.greet(true);
  const m = transaction(c, s, foreignAddress(rng), [localAddress(rng)]);
  return finish(c, s, errorTransport(c, inst, m));
}

/** Well-formed lines no metric of the contract counts. */
function other(c: Cast, inst: Instance, when: string): LogEvent[] {
  const { rng } = c;
  const ip = client(rng);
  const line = (program: string, pid: number, text: string) => [event(inst, program, pid, text, 'other')];
  switch (rng.int(0, 9)) {
    case 0: return line('anvil', inst.anvil, `statistics: max connection rate ${rng.int(1, 30)}/60s for (smtp:${ip.address}) at ${when}`);
    case 1: return line('anvil', inst.anvil, `statistics: max connection count ${rng.int(1, 9)} for (smtp:${ip.address}) at ${when}`);
    case 2: return line('anvil', inst.anvil, `statistics: max cache size ${rng.int(1, 400)} at ${when}`);
    case 3: return line('smtpd', rng.pick(inst.smtpd), `improper command pipelining after CONNECT from ${ip.text}: EHLO ${ip.name}\\r\\nMAIL FROM:<x@example.com>\\r\\n`);
    case 4: return line('smtpd', rng.pick(inst.smtpd), `warning: non-SMTP command from ${ip.text}: GET / HTTP/1.1`);
    case 5: return line('smtpd', rng.pick(inst.smtpd), 'warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading:../ssl/record/rec_layer_s3.c:308:');
    case 6: return line('smtpd', rng.pick(inst.smtpd), `SSL_accept error from ${ip.text}: -1`);
    case 7: return line('master', rng.int(2, 200), 'daemon started -- version 3.7.11, configuration /var/lib/mailfleet/instances/mta-0/config');
    case 8: return line('scache', rng.int(2, 900), `statistics: domain lookup hits=${rng.int(0, 50)} miss=${rng.int(1, 50)} success=${rng.int(0, 99)}%`);
    default: return line('smtpd', rng.pick(inst.smtpd), `warning: Connection concurrency limit exceeded: 201 from ${ip.text} for service smtp`);
  }
}

/** One story's events; `when` is the current time as anvil writes it (`Mar  1 05:06:17`). */
export function story(c: Cast, which: Story, when: string): LogEvent[] {
  const { rng, main, mx } = c;
  switch (which) {
    case 'inbound': return inbound(c, main);
    case 'rejected': return rejected(c, main, false);
    case 'submission': return submission(c, main);
    case 'loginFailure': return loginFailure(c, main);
    case 'outbound': return outbound(c, main);
    case 'mxInbound': return inbound(c, mx);
    case 'mxRejected': return rejected(c, mx, true);
    case 'dropped': return dropped(c, rng.chance(0.8) ? main : mx);
    case 'cleanupReject': return cleanupReject(c, main);
    case 'errorTransport': return errorStory(c, main);
    case 'expired': return expire(c, main, rng.chance(0.5) ? localAddress(rng) : foreignAddress(rng), foreignAddress(rng));
    case 'other': return other(c, rng.chance(0.8) ? main : mx, when);
  }
}
