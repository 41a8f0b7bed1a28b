import { execFileSync } from 'node:child_process';
import type { ConnectionOptions } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { openPop3Session, openSmtpSession, type Envelope, type SendResult, type TlsClientOptions } from '../../src/protocol/index.ts';

export interface SendOptions {
  /** STARTTLS (25, 587) or implicit TLS (465); absent: plaintext. */
  tls?: TlsClientOptions;
  /** AUTH PLAIN before the first message (submission); needs `tls`. */
  auth?: { user: string; pass: string };
}

export function message(id: string, from: string, to: string, subject = 'census'): Envelope {
  return {
    from,
    to: [to],
    data: [`From: <${from}>`, `To: <${to}>`, `Subject: ${subject}`, `Message-ID: <${id}>`, `Date: ${new Date().toUTCString()}`, '', `body of ${id}`, '.leading dot line', ''].join('\r\n'),
  };
}

/** Sends every envelope over `parallel` SMTP sessions; results in input order. */
export async function sendAll(host: string, port: number, envelopes: Envelope[], parallel = 4, options: SendOptions = {}): Promise<SendResult[]> {
  const results: SendResult[] = new Array(envelopes.length);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    const session = await openSmtpSession({ host, port, heloName: 'client.test', timeoutMs: 30_000, tls: options.tls });
    try {
      if (options.auth !== undefined) {
        const reply = await session.authPlain(options.auth.user, options.auth.pass);
        if (reply.code !== 235) throw new Error(`AUTH as ${options.auth.user} refused on ${host}:${port}: ${reply.code} ${reply.lines.join(' ')}`);
      }
      while (next < envelopes.length) {
        const i = next++;
        results[i] = await session.send(envelopes[i] as Envelope);
      }
    } finally {
      await session.quit();
    }
  }));
  return results;
}

/** Waits until a Postfix instance's queue is empty (everything delivered or bounced). */
export async function waitQueueEmpty(configDir: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = execFileSync('postqueue', ['-c', configDir, '-j'], { encoding: 'utf8' }).trim();
    if (out === '') return;
    if (Date.now() > deadline) throw new Error(`queue of ${configDir} not empty after ${timeoutMs} ms:\n${out.slice(0, 2000)}`);
    await delay(200);
  }
}

export function messageIdOf(raw: string): string | undefined {
  return /^Message-ID:\s*<([^>]+)>/im.exec(raw)?.[1];
}

/**
 * imapflow's options for `tls`: implicit TLS (993) or STARTTLS required (143), trusting `tls.ca`
 * and asking for `tls.servername`; without `tls`, plaintext (for the internal hops only).
 */
export function imapFlowTls(tls: TlsClientOptions | undefined): Pick<ImapFlowOptions, 'secure' | 'doSTARTTLS' | 'servername' | 'tls'> {
  if (tls === undefined) return { secure: false, doSTARTTLS: false };
  const { ca, servername, rejectUnauthorized, minVersion } = tls;
  return {
    secure: tls.mode === 'implicit',
    ...(tls.mode === 'starttls' ? { doSTARTTLS: true } : {}),
    ...(servername === undefined ? {} : { servername }),
    tls: { ...(ca === undefined ? {} : { ca: ca as ConnectionOptions['ca'] }), rejectUnauthorized: rejectUnauthorized ?? true, minVersion: minVersion ?? 'TLSv1.2' },
  };
}

/** The Message-IDs in `user`'s INBOX, read over IMAP on TLS (`tls`: see {@link imapFlowTls}). */
export async function imapMessageIds(host: string, port: number, user: string, pass: string, tls: TlsClientOptions): Promise<string[]> {
  const client = new ImapFlow({ host, port, auth: { user, pass }, logger: false, ...imapFlowTls(tls) });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    const ids: string[] = [];
    try {
      const exists = typeof client.mailbox === 'object' ? client.mailbox.exists : 0;
      if (exists > 0) {
        for await (const m of client.fetch('1:*', { envelope: true })) if (m.envelope?.messageId) ids.push(m.envelope.messageId.replace(/^<|>$/g, ''));
      }
    } finally {
      lock.release();
    }
    return ids;
  } finally {
    await client.logout().catch(() => undefined);
  }
}

/** The Message-IDs in `user`'s maildrop, read over POP3 on TLS (STLS on 110 or implicit on 995). */
export async function pop3MessageIds(host: string, port: number, user: string, pass: string, tls: TlsClientOptions): Promise<string[]> {
  const session = await openPop3Session({ host, port, timeoutMs: 15_000, tls });
  try {
    const login = await session.login(user, pass);
    if (!login.ok) throw new Error(`POP3 login refused for ${user}: ${login.text}`);
    const ids: string[] = [];
    for (const { number } of await session.list()) {
      const id = messageIdOf(await session.retrieve(number));
      if (id) ids.push(id);
    }
    return ids;
  } finally {
    await session.quit();
  }
}

/** Runs `work` for every item with at most `parallel` at a time. */
export async function eachLimited<T, R>(items: T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  }));
  return out;
}
