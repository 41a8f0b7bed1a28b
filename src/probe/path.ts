/**
 * The steps of one path over the real protocol clients: submit through the msa (AUTH PLAIN) or the mta,
 * wait for the message over IMAP and fetch it, find it over POP3, fetch and delete it. Every session is
 * on TLS, verified against the CA and server name the settings give.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  openImapSession, openPop3Session, openSmtpSession, type ImapCommandResponse, type ImapSession, type Pop3Session, type SmtpReply, type SmtpSession,
  type TlsClientOptions, type TlsDetail,
} from '../protocol/index.ts';
import type { ProbePath } from '../spec/index.ts';
import { fetchedLiteral, findByTop, searchUids } from './mailbox.ts';
import { headerValue, PROBE_HEADER, probeMessage } from './message.ts';
import type { EndpointName, ProbeSettings, ProbeTargets } from './settings.ts';
import { ProbeStageError, type PathSteps } from './stages.ts';

/** Most octets a fetched probe message may have (it has well under 1 KiB). */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Pause between looks for the message while it is not there yet: first, and at most. */
const POLL_FIRST_MS = 100;
const POLL_MAX_MS = 1000;

/** The TLS options of every dial, built once (a secure context is kept per options object, see protocol/client/tls.ts). */
export interface PathTls {
  implicit: TlsClientOptions;
  starttls: TlsClientOptions;
}

export function pathTls(settings: ProbeSettings): PathTls {
  const common = { ...(settings.tls.ca === undefined ? {} : { ca: settings.tls.ca }), ...(settings.tls.servername === undefined ? {} : { servername: settings.tls.servername }) };
  return { implicit: Object.freeze({ mode: 'implicit', ...common }), starttls: Object.freeze({ mode: 'starttls', ...common }) };
}

export interface PathContext {
  settings: ProbeSettings;
  tls: PathTls;
  targets: ProbeTargets;
  tag: string;
  /** When the cycle started, ms since the epoch (the message's Date). */
  now: number;
  /** Every TLS session's certificate, as it is established. */
  sawCertificate: (endpoint: EndpointName, tls: TlsDetail | undefined) => void;
  /** The queue id the submission's 250 reply named, for the log. */
  queued: (queueId: string) => void;
}

function target(ctx: PathContext, name: EndpointName): { host: string; port: number } {
  const t = ctx.targets[name];
  if (t === undefined) throw new ProbeStageError('NO_ENDPOINT', `no ${name} endpoint to dial (no instance of its role runs now)`);
  return t;
}

const smtpText = (reply: SmtpReply): string => `${reply.code} ${reply.lines.join(' / ')}`;

function expectSmtp(what: string, reply: SmtpReply | undefined, code: number): void {
  if (reply === undefined) throw new ProbeStageError('REFUSED', `${what}: no reply`);
  if (reply.code !== code) throw new ProbeStageError('REFUSED', `${what} refused with ${reply.code}`, smtpText(reply));
}

function expectImapOk(what: string, response: ImapCommandResponse): void {
  const { tagged } = response;
  if (tagged.status !== 'OK') throw new ProbeStageError('REFUSED', `${what} answered ${tagged.status}`, `${tagged.status} ${tagged.code ? `[${tagged.code}] ` : ''}${tagged.text}`);
}

/** The steps of `path` for one cycle; `signal` is the path's (aborted at a missed deadline or a stop). */
export function pathSteps(ctx: PathContext, path: ProbePath, signal: AbortSignal): PathSteps {
  const { settings, tag } = ctx;
  const { address, password } = settings.account;
  const timeoutMs = settings.timeoutMs;
  let smtp: SmtpSession | undefined;
  let imap: ImapSession | undefined;
  let pop3: Pop3Session | undefined;
  let uid: number | undefined;
  let number: number | undefined;

  const verify = (raw: string | undefined, over: string): void => {
    if (raw === undefined) throw new ProbeStageError('NOT_FOUND', `${over}: the answer carried no message`);
    const found = headerValue(raw, PROBE_HEADER);
    if (found !== tag) throw new ProbeStageError('MISMATCH', `${over}: fetched a message tagged ${JSON.stringify(found)}, expected ${tag}`);
  };

  async function openPop3(): Promise<Pop3Session> {
    const session = await openPop3Session({ ...target(ctx, 'pop3'), timeoutMs, signal, tls: ctx.tls.implicit, maxMessageLines: 10_000 });
    ctx.sawCertificate('pop3', session.tls);
    const login = await session.login(address, password);
    if (!login.ok) {
      await session.quit();
      throw new ProbeStageError('REFUSED', 'POP3 login refused', `-ERR ${login.text}`);
    }
    return session;
  }

  const steps = [
    ['connect', async () => {
      const tls = path === 'msa' ? (settings.tls.msaMode === 'implicit' ? ctx.tls.implicit : ctx.tls.starttls) : ctx.tls.starttls;
      smtp = await openSmtpSession({ ...target(ctx, path), heloName: settings.heloName, timeoutMs, signal, tls });
      ctx.sawCertificate(path, smtp.tls);
    }],
    ['smtp', async () => {
      const session = smtp as SmtpSession;
      if (path === 'msa') expectSmtp('AUTH PLAIN', await session.authPlain(address, password), 235);
      // The mta path sends as the Internet does, with the null sender: nothing bounces back into the mailbox.
      const sent = await session.send({ from: path === 'msa' ? address : '', to: [address], data: probeMessage({ tag, path, from: address, to: address, now: ctx.now, hostname: settings.heloName }) });
      expectSmtp('MAIL FROM', sent.mail, 250);
      expectSmtp('RCPT TO', sent.rcpt[0], 250);
      expectSmtp('DATA', sent.data, 250);
      const queueId = /queued as ([A-Za-z0-9]+)/.exec(sent.data?.lines.join(' ') ?? '')?.[1];
      if (queueId !== undefined) ctx.queued(queueId);
      await session.quit();
      smtp = undefined;
    }],
    ['delivery_imap', async () => {
      imap = await openImapSession({ ...target(ctx, 'imap'), timeoutMs, signal, tls: ctx.tls.implicit, maxLiteralBytes: MAX_MESSAGE_BYTES });
      ctx.sawCertificate('imap', imap.tls);
      const login = await imap.login(address, password);
      if (login.status !== 'OK') throw new ProbeStageError('REFUSED', `IMAP LOGIN answered ${login.status}`, `${login.status} ${login.text}`);
      expectImapOk('EXAMINE INBOX', await imap.command('EXAMINE INBOX'));
      for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
        const found = await imap.command(`UID SEARCH HEADER ${PROBE_HEADER} "${tag}"`);
        expectImapOk('UID SEARCH', found);
        uid = searchUids(found.untagged).at(-1);
        if (uid !== undefined) return;
        await delay(pause, undefined, { signal });
      }
    }],
    ['fetch_imap', async () => {
      const session = imap as ImapSession;
      const fetched = await session.command(`UID FETCH ${uid ?? 0} (BODY.PEEK[])`);
      expectImapOk('UID FETCH', fetched);
      verify(fetchedLiteral(fetched.untagged), 'IMAP');
      await session.logout();
      imap = undefined;
    }],
    ['delivery_pop3', async () => {
      // A POP3 session sees the maildrop as it was at login: look again in a new one until it is there.
      for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
        pop3 = await openPop3();
        number = await findByTop(pop3, tag);
        if (number !== undefined) return;
        await pop3.quit();
        pop3 = undefined;
        await delay(pause, undefined, { signal });
      }
    }],
    ['fetch_pop3', async () => {
      const session = pop3 as Pop3Session;
      verify(await session.retrieve(number ?? 0), 'POP3');
      const deleted = await session.dele(number ?? 0);
      if (!deleted.ok) throw new ProbeStageError('REFUSED', 'DELE refused', `-ERR ${deleted.text}`);
      pop3 = undefined;
      await session.update();
    }],
  ] as const;

  return {
    steps,
    async close() {
      await Promise.all([smtp?.quit(), imap?.logout(), pop3?.quit()]);
    },
  };
}
