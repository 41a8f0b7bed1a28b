/**
 * The filtered mode's messages. smtp-source sends the same body every time, and rspamd remembers clamd's verdict
 * of a body in Redis (by its digest): from the second message on clamd would never be asked, and a bench of
 * identical mail would measure a cache. Here every message is different, and the same on both paths: message
 * `n` of batch `b` (the warm-up is batch 0, round r is batch r) is made from a pseudo-random generator seeded with
 * (b, n), so both paths get the same messages in the same order and no two messages of a run share a body.
 *
 * The mix: well-formed mail (Date, Message-ID, MIME), a subject and about `size` bytes of plain text from a
 * vocabulary of ordinary words (what rspamd's tokenizer and Bayes classifier see in real mail); every
 * ATTACHMENT_EVERY-th message is multipart/mixed, the text cut to half the size and the other half a binary
 * attachment (random bytes, base64), which clamd unpacks and scans as such.
 */

/** One message in this many carries a binary attachment. */
export const ATTACHMENT_EVERY = 4;

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were '
  + 'their one all we can her has there been if more when will would who so no meeting report project team week monday '
  + 'friday morning afternoon schedule office customer order invoice payment delivery update review draft plan budget '
  + 'quarter numbers figures please thanks regards attached document question answer call tomorrow today yesterday '
  + 'lunch dinner travel hotel flight ticket booking confirm change agenda notes minutes summary result sales market '
  + 'product service support request issue ticket server network account password backup storage mailbox message '
  + 'family weekend holiday garden house school children football music book film photo picture birthday party '
  + 'about after again against before between during through under until while because although however therefore'
).split(' ');

/** mulberry32: a small, fast, seedable generator; the same seed gives the same sequence on both paths. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function words(next: () => number, count: number): string[] {
  return Array.from({ length: count }, () => WORDS[Math.floor(next() * WORDS.length)] ?? 'word');
}

/** Lines of up to 72 characters of words, about `bytes` in all, each line CRLF-terminated when joined. */
function text(next: () => number, bytes: number): string[] {
  const lines: string[] = [];
  let line = '';
  let total = 0;
  while (total < bytes) {
    const w = words(next, 1)[0] ?? 'word';
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      total += line.length + 2;
      line = '';
    }
    line = line ? `${line} ${w}` : w.charAt(0).toUpperCase() + w.slice(1);
  }
  if (line) lines.push(`${line}.`);
  return lines;
}

function binary(next: () => number, bytes: number): string {
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buf[i] = Math.floor(next() * 256);
  return buf.toString('base64').replace(/.{76}/g, '$&\r\n');
}

export interface MixedMessage {
  from: string;
  to: string;
  /** Batch: 0 for the warm-up, the round's number after it. */
  batch: number;
  /** The message's number in its batch. */
  n: number;
  /** About this many bytes of body. */
  size: number;
}

/** Message `n` of batch `batch`: header and body, lines separated by CRLF. */
export function mixedMessage(m: MixedMessage): string {
  const next = generator(m.batch * 1_000_003 + m.n + 1);
  const id = `bench-${m.batch}-${m.n}@client.bench.test`;
  const subject = words(next, 3 + Math.floor(next() * 4)).join(' ');
  const head = [
    `From: Bench Sender <${m.from}>`, `To: <${m.to}>`, `Subject: ${subject.charAt(0).toUpperCase()}${subject.slice(1)}`, `Message-ID: <${id}>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`, 'MIME-Version: 1.0',
  ];
  if (m.n % ATTACHMENT_EVERY !== ATTACHMENT_EVERY - 1) {
    return [...head, 'Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit', '', ...text(next, m.size), ''].join('\r\n');
  }
  const boundary = `part-${m.batch}-${m.n}`;
  return [
    ...head, `Content-Type: multipart/mixed; boundary="${boundary}"`, '',
    `--${boundary}`, 'Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit', '', ...text(next, m.size / 2),
    `--${boundary}`, `Content-Type: application/octet-stream; name="data-${m.n}.bin"`, 'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="data-${m.n}.bin"`, '', binary(next, Math.floor((m.size / 2) * 0.75)),
    `--${boundary}--`, '',
  ].join('\r\n');
}
