/**
 * The DNS TXT record of a DKIM selector (RFC 6376 §3.6): built for publishing, split into the character
 * strings of at most 255 bytes a TXT record is made of, and read back from DNS to tell whether the record a
 * verifier would find is ours. Pure; a record read from DNS is untrusted and never throws.
 */
import type { DkimPublicKey } from './keys.ts';

/** A TXT record is a sequence of character strings of at most 255 bytes each (RFC 1035 §3.3.14). */
export const TXT_STRING_MAX_BYTES = 255;
/** Longer TXT text from DNS is not a DKIM record we would publish (a 4096-bit key's record is about 750). */
export const MAX_RECORD_TEXT_BYTES = 4096;

export interface DkimRecord {
  /** `<selector>._domainkey.<domain>`, without the trailing dot. */
  name: string;
  /** The record's text as verifiers see it, the strings joined: `v=DKIM1; k=rsa; p=…`. */
  value: string;
  /** The character strings to publish, in order, each at most {@link TXT_STRING_MAX_BYTES} bytes. */
  strings: string[];
  /** One zone-file line (RFC 1035 master file): `<name>. IN TXT "…" "…"`. */
  zone: string;
}

export function dkimRecordName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** `v=DKIM1; k=rsa; p=…`: the version first (RFC 6376 requires it there when present), the key type, the key. */
export function dkimRecordValue(key: Pick<DkimPublicKey, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`;
}

/**
 * `value` cut into strings of at most `max` bytes. The value is ASCII (tags and base64), so bytes are
 * characters; anything else is cut on UTF-8 character boundaries all the same.
 */
export function txtStrings(value: string, max = TXT_STRING_MAX_BYTES): string[] {
  const out: string[] = [];
  let current = '';
  let bytes = 0;
  for (const ch of value) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > max) {
      out.push(current);
      current = '';
      bytes = 0;
    }
    current += ch;
    bytes += size;
  }
  if (current !== '' || out.length === 0) out.push(current);
  return out;
}

/** A character string in master-file form: quoted, with `"` and `\` escaped. */
function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

export function dkimRecord(selector: string, domain: string, key: Pick<DkimPublicKey, 'algorithm' | 'publicKey'>): DkimRecord {
  const name = dkimRecordName(selector, domain);
  const value = dkimRecordValue(key);
  const strings = txtStrings(value);
  return { name, value, strings, zone: `${name}. IN TXT ${strings.map(quoted).join(' ')}` };
}

export type TagList = { ok: true; tags: ReadonlyMap<string, string> } | { ok: false; reason: string };

const TAG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** FWS as far as a TXT value can hold it: spaces, tabs, CR and LF. */
const WSP = /[ \t\r\n]+/g;

/**
 * A tag-value list (RFC 6376 §3.2): `tag=value` separated by `;`, whitespace around either ignored, a
 * trailing `;` allowed, a tag twice an error. Values keep inner whitespace except where noted by callers.
 */
export function parseTagList(text: string): TagList {
  if (text.length > MAX_RECORD_TEXT_BYTES) return { ok: false, reason: `longer than ${MAX_RECORD_TEXT_BYTES} characters` };
  const tags = new Map<string, string>();
  const parts = text.split(';');
  if (parts.length > 1 && (parts.at(-1) ?? '').trim() === '') parts.pop();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) return { ok: false, reason: `${JSON.stringify(part.trim().slice(0, 40))} is not tag=value` };
    const name = part.slice(0, eq).trim();
    if (!TAG_NAME.test(name)) return { ok: false, reason: `${JSON.stringify(name.slice(0, 40))} is not a tag name` };
    if (tags.has(name)) return { ok: false, reason: `tag ${name} appears twice` };
    const value = part.slice(eq + 1).trim();
    // Tag values are printable ASCII and whitespace (RFC 6376 §3.2); anything else is not a record of ours.
    if (/[^\x20-\x7e\t\r\n]/.test(value)) return { ok: false, reason: `tag ${name} holds bytes outside printable ASCII` };
    tags.set(name, value);
  }
  return { ok: true, tags };
}

export type RecordCheck = { visible: true } | { visible: false; reason: string };

/** Whether one TXT text is a DKIM key record (v=DKIM1 first or absent, with a p= tag). */
function isKeyRecord(tags: ReadonlyMap<string, string>, text: string): boolean {
  const version = tags.get('v');
  if (version !== undefined && (version !== 'DKIM1' || !/^[ \t\r\n]*v[ \t\r\n]*=/.test(text))) return false;
  return tags.has('p');
}

/**
 * Whether the TXT records found at a selector's name publish `key`: exactly one of them is a DKIM key record,
 * and it names the same key type (`k=`, default rsa) and the same public key (`p=`, whitespace ignored). Two
 * key records at one name are refused: a verifier may pick either (RFC 6376 §3.6.2.2 leaves it undefined).
 */
export function checkPublished(key: Pick<DkimPublicKey, 'algorithm' | 'publicKey'>, texts: readonly string[]): RecordCheck {
  if (texts.length === 0) return { visible: false, reason: 'no TXT record at the name' };
  const records: ReadonlyMap<string, string>[] = [];
  const problems: string[] = [];
  for (const text of texts) {
    const parsed = parseTagList(text);
    if (!parsed.ok) problems.push(parsed.reason);
    else if (isKeyRecord(parsed.tags, text)) records.push(parsed.tags);
  }
  if (records.length === 0) return { visible: false, reason: `no DKIM key record among ${texts.length} TXT record${texts.length === 1 ? '' : 's'}${problems.length > 0 ? ` (${problems[0]})` : ''}` };
  if (records.length > 1) return { visible: false, reason: `${records.length} DKIM key records at the name; verifiers may pick any of them, publish only one` };
  const [tags] = records as [ReadonlyMap<string, string>];
  const type = tags.get('k') ?? 'rsa';
  if (type !== key.algorithm) return { visible: false, reason: `the record has k=${type.slice(0, 20)}, the key is ${key.algorithm}` };
  const published = (tags.get('p') ?? '').replace(WSP, '');
  if (published === '') return { visible: false, reason: 'the record has an empty p= (a revoked key)' };
  if (published !== key.publicKey) return { visible: false, reason: 'the record publishes another public key' };
  return { visible: true };
}
