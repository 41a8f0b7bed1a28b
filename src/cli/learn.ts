/**
 * `mailfleet learn spam|ham`: the program Dovecot's imapsieve pipes a message to on the mailbox backends when a
 * user moves it into or out of Junk (src/config/dovecot-learn.ts). It sends the message on stdin to rspamd's
 * controller (`/learnspam`, `/learnham`), with the controller password read from a file: never on a command
 * line, where `ps` would show it. Every image runs the agent, so node and this CLI are in every mailbox pod and
 * on the single host; nothing else (curl) is needed.
 *
 * Bounded: the message is read up to `--max-bytes` (the platform's message size limit, as rspamd's own
 * `max_message`; a larger one is read to its end and discarded, not learned), the password file up to 4 KiB,
 * rspamd's answer up to 4 KiB; everything, reading stdin included, within `--timeout` seconds.
 *
 * Exit codes: 0 learned (or rspamd had already learned this message as this class); 1 not learned, the reason on
 * stderr in one line (Dovecot logs it); 2 a command line that was not understood.
 */
import { request } from 'node:http';
import type { Readable } from 'node:stream';
import { readSecretFile } from '../files.ts';
import { parse, usageError } from './args.ts';

const USAGE = 'mailfleet learn spam|ham --url URL --password-file FILE [--max-bytes N] [--timeout SECONDS]  (the message on stdin)';

/** Longest answer of rspamd's controller read: `{"success":true}` or `{"error":"…"}`. */
export const MAX_REPLY_BYTES = 4096;
/** Longest reason written to stderr (one line of Dovecot's log). */
const MAX_REASON_CHARS = 300;

/** What became of one learn. */
export type LearnOutcome = { learned: true; note?: string } | { learned: false; reason: string };

/** `text` as one printable line of at most MAX_REASON_CHARS: controls and invalid UTF-8 become `?`. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?').trim();
  return clean.length > MAX_REASON_CHARS ? `${clean.slice(0, MAX_REASON_CHARS)}…` : clean;
}

/**
 * What rspamd's controller answered to a learn: 200 learned; an error (rspamd answers `{"error":"…"}` with a 4xx or
 * 5xx status) not learned, except "already learned" (the same message as the same class: what the user asked for
 * holds). Any other body is quoted, cut and cleaned, never trusted.
 */
export function learnVerdict(status: number, body: Buffer): LearnOutcome {
  const text = body.subarray(0, MAX_REPLY_BYTES).toString('utf8');
  let error: string | undefined;
  try {
    const json = JSON.parse(text) as unknown;
    if (json !== null && typeof json === 'object' && typeof (json as { error?: unknown }).error === 'string') error = (json as { error: string }).error;
  } catch {
    // not JSON: quoted as it is
  }
  if (status === 200) return { learned: true };
  const said = oneLine(error ?? text);
  if (/already learned/i.test(error ?? '')) return { learned: true, note: said };
  return { learned: false, reason: `rspamd answered ${status}${said === '' ? '' : `: ${said}`}` };
}

/**
 * All of `stream` if it is at most `max` bytes; undefined if it is longer (then read to its end and dropped, so
 * that the writer sees no broken pipe). Rejects when `signal` aborts first.
 */
export function readBounded(stream: Readable, max: number, signal: AbortSignal): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (fn: () => void) => {
      signal.removeEventListener('abort', onAbort);
      stream.off('data', onData).off('end', onEnd).off('error', onError);
      fn();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      else chunks.length = 0;
    };
    const onEnd = () => done(() => resolve(size <= max ? Buffer.concat(chunks) : undefined));
    const onError = (err: Error) => done(() => reject(err));
    const onAbort = () => done(() => {
      stream.destroy();
      reject(new Error('timed out reading the message'));
    });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData).once('end', onEnd).once('error', onError);
  });
}

/** POSTs `message` to `url` with the controller password; rspamd's verdict. */
export function postLearn(url: URL, password: string, message: Buffer, signal: AbortSignal): Promise<LearnOutcome> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { Password: password, 'Content-Length': message.length }, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_REPLY_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.once('end', () => resolve(learnVerdict(res.statusCode ?? 0, Buffer.concat(chunks))));
      res.once('error', (err) => resolve({ learned: false, reason: `reading rspamd's answer: ${oneLine(err.message)}` }));
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      const why = signal.aborted ? 'timed out' : oneLine(err.code ?? err.message);
      resolve({ learned: false, reason: `${url.host}: ${why}` });
    });
    req.end(message);
  });
}

/** `mailfleet learn spam|ham`: see the top of this file. */
export async function learnCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    url: { type: 'url' },
    'password-file': { type: 'string' },
    'max-bytes': { type: 'integer', min: 1, max: 1_073_741_824, default: 52_428_800, unit: 'bytes' },
    timeout: { type: 'integer', min: 1, max: 300, default: 10, unit: 'seconds' },
  }, USAGE, 1);
  const [kind] = positionals;
  if (kind !== 'spam' && kind !== 'ham') throw usageError(USAGE, kind === undefined ? 'missing spam or ham' : `expected spam or ham, got ${JSON.stringify(kind)}`);
  if (values.url === undefined) throw usageError(USAGE, '--url is required: rspamd\'s controller');
  if (values['password-file'] === undefined) throw usageError(USAGE, '--password-file is required');
  const url = new URL(`learn${kind}`, values.url.endsWith('/') ? values.url : `${values.url}/`);
  const fail = (reason: string): number => {
    process.stderr.write(`mailfleet learn ${kind}: not learned: ${reason}\n`);
    return 1;
  };
  const signal = AbortSignal.timeout(values.timeout * 1000);
  let password: string;
  try {
    password = readSecretFile(values['password-file'], 'the password file');
  } catch (err) {
    return fail(oneLine((err as Error).message));
  }
  let message: Buffer | undefined;
  try {
    message = await readBounded(process.stdin, values['max-bytes'], signal);
  } catch (err) {
    return fail(oneLine((err as Error).message));
  }
  if (message === undefined) return fail(`the message is larger than ${values['max-bytes']} bytes`);
  const outcome = await postLearn(url, password, message, signal);
  if (!outcome.learned) return fail(outcome.reason);
  if (outcome.note !== undefined) process.stderr.write(`mailfleet learn ${kind}: ${outcome.note}\n`);
  return 0;
}
