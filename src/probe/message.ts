/**
 * The probe message and its tag (pure): every message carries `X-Mailfleet-Probe: <tag>` and the tag in
 * its subject, so the prober finds exactly its own message over IMAP (SEARCH HEADER) and POP3 (TOP), and
 * a stale one left by a crashed cycle is recognised by anyone.
 */
import type { ProbePath } from '../spec/index.ts';

/** The header every probe message carries; IMAP SEARCH HEADER and the clean-up look for it. */
export const PROBE_HEADER = 'X-Mailfleet-Probe';

/** `probe-0.msa.1767225600000.3f9a0c1b2d4e`: unique per message (`random`: 6 random bytes, hex). */
export function probeTag(instance: string, path: ProbePath, now: number, random: string): string {
  const name = instance.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63) || 'probe';
  return `${name}.${path}.${String(Math.trunc(now)).padStart(13, '0')}.${random}`;
}

/** The message of one path: to and from the probe account, tagged in a header and the subject. */
export function probeMessage(opts: { tag: string; path: ProbePath; from: string; to: string; now: number; hostname: string }): string {
  const { tag, path, from, to, now, hostname } = opts;
  return [
    `From: mailfleet prober <${from}>`,
    `To: <${to}>`,
    `Subject: mailfleet probe ${tag}`,
    `Date: ${new Date(now).toUTCString()}`,
    `Message-ID: <${tag}@${hostname}>`,
    `${PROBE_HEADER}: ${tag}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Synthetic transaction of the mailfleet prober through the ${path}.`,
    'It is deleted as soon as it has been read over IMAP and POP3.',
    '',
  ].join('\r\n');
}

/** Longest header section read; a probe message's is well under 1 KiB. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * The value of header `name` in a raw message (CRLF or LF; folded lines unfolded), the first one when it
 * appears more than once; undefined when absent. Reads at most the first 64 KiB of the header section.
 */
export function headerValue(raw: string, name: string): string | undefined {
  const end = raw.search(/\r?\n\r?\n/);
  const header = (end === -1 ? raw : raw.slice(0, end)).slice(0, MAX_HEADER_BYTES);
  const lines = header.split(/\r?\n/);
  const wanted = name.toLowerCase();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== wanted) continue;
    let value = line.slice(colon + 1);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] ?? '')) value += ` ${(lines[++i] ?? '').trim()}`;
    return value.trim();
  }
  return undefined;
}

/** A certificate's notAfter as Node prints it (`Mar  1 12:00:00 2026 GMT`), in seconds since the epoch; undefined when unreadable. */
export function notAfterSeconds(validTo: string): number | undefined {
  const ms = Date.parse(validTo);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}
