/**
 * The single host's platform secrets: what the spec leaves out is generated once, on first start, and
 * kept in `STATE/secrets.json` (mode 0600, root's), so that every later start uses the same values
 * (the LDAP database holds the service accounts' password hashes).
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MailfleetError } from '../../errors.ts';
import { generateSecret, KNOWN_SECRETS, missingSecrets, MIN_SECRET_LENGTH, PLATFORM_SECRETS, withSecrets, type MailPlatform, type PlatformSecretValues } from '../../spec/index.ts';

export const SECRETS_FILE = 'secrets.json';

function readStore(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new MailfleetError('SECRET_MISSING', `${file}: cannot read the platform secrets`, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError('not an object');
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch (err) {
    throw new MailfleetError('SECRET_MISSING', `${file}: not a JSON object of secrets; move it away to have new ones generated`, { cause: err });
  }
}

/**
 * The platform with every secret filled in: the spec's own, else the one kept in the state directory,
 * else a new one (then kept). A kept value that is weak (too short, well known) is replaced.
 */
export function withLocalSecrets(platform: MailPlatform, stateDir: string): { platform: MailPlatform; generated: string[] } {
  const missing = missingSecrets(platform.spec);
  if (missing.length === 0) return { platform, generated: [] };
  const file = join(stateDir, SECRETS_FILE);
  const store = readStore(file);
  const values: PlatformSecretValues = {};
  const generated: string[] = [];
  for (const s of missing) {
    const kept = store[s.key];
    if (kept !== undefined && kept.length >= MIN_SECRET_LENGTH && !KNOWN_SECRETS.has(kept)) {
      values[s.name] = kept;
      continue;
    }
    const fresh = generateSecret();
    store[s.key] = fresh;
    values[s.name] = fresh;
    generated.push(s.field);
  }
  if (generated.length > 0) {
    const ordered = Object.fromEntries(PLATFORM_SECRETS.filter((s) => store[s.key] !== undefined).map((s) => [s.key, store[s.key]]));
    writeFileSync(`${file}.tmp`, JSON.stringify(ordered, null, 2) + '\n', { mode: 0o600 });
    chmodSync(`${file}.tmp`, 0o600);
    renameSync(`${file}.tmp`, file);
  }
  return { platform: { ...platform, spec: withSecrets(platform.spec, values) }, generated };
}
