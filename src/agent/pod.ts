import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigFiles } from '../config/index.ts';
// The placeholder codec alone; the config index does not re-export it.
import { podSecretKeys, resolveInValue, resolvePlaceholders, secretPlaceholder, type PlaceholderValues, type SecretConsumer } from '../config/index.ts';
import { isMailfleetError, MailfleetError } from '../errors.ts';
import { validateSpec, loadSpecFile, type MailPlatform } from '../spec/index.ts';
import type { ConfigSource } from './daemons.ts';

/** What a pod has mounted for its agent (POD_PATHS in a container, temporary directories in tests). */
export interface PodMounts {
  /** ConfigMap `<platform>-<role>-config`: the role's generated files, placeholders unresolved. */
  configFrom: string;
  /** The platform Secret, one file per key. */
  secretsDir: string;
  /** ConfigMap `<platform>-spec`: `mailfleet.yaml` and `peers.json`. */
  specDir: string;
}

export const SPEC_FILE_NAME = 'mailfleet.yaml';
export const PEERS_FILE_NAME = 'peers.json';

/**
 * The value of one Secret key as the daemons' config files need it. `kubectl create secret --from-file`
 * keeps a file's final newline, so one is dropped; a value still spanning lines would inject lines into a
 * config file and is refused.
 */
function readSecret(dir: string, key: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, key), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MailfleetError('PLACEHOLDER_UNRESOLVED', `${join(dir, key)}: cannot read secret key ${key}`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(value)) {
    throw new MailfleetError('PLACEHOLDER_UNRESOLVED', `${join(dir, key)}: the value of secret key ${key} spans several lines`);
  }
  return value;
}

/** Placeholder values of a pod: Secret keys read from `secretsDir` when asked for (so a reload sees updates), and the pod's name. */
export function podPlaceholderValues(secretsDir: string, podName: string): PlaceholderValues {
  return { secret: (key) => readSecret(secretsDir, key), podName };
}

/** Runs `resolve`, adding to an unresolved placeholder's error the directory the Secret was read from. */
function naming<T>(secretsDir: string, resolve: () => T): T {
  try {
    return resolve();
  } catch (err) {
    if (isMailfleetError(err, 'PLACEHOLDER_UNRESOLVED') && !err.message.includes(secretsDir)) {
      throw new MailfleetError('PLACEHOLDER_UNRESOLVED', `${err.message}; secrets directory ${secretsDir}`, { cause: err });
    }
    throw err;
  }
}

/**
 * The platform document from the spec ConfigMap, its placeholders resolved from the mounted Secret, then
 * validated again: the real values must satisfy the schema too. A pod has only the Secret keys its
 * workload uses mounted (`podSecretKeys`): each of those must be there; a placeholder of any other key
 * stays as it is, a value this pod never reads.
 */
export function loadPodSpec(mounts: PodMounts, podName: string, workload: SecretConsumer): MailPlatform {
  const file = join(mounts.specDir, SPEC_FILE_NAME);
  const redacted = loadSpecFile(file);
  const needed = new Set(podSecretKeys(workload, redacted.spec));
  const mounted = podPlaceholderValues(mounts.secretsDir, podName);
  const values: PlaceholderValues = {
    podName,
    secret: (key) => (needed.has(key) ? mounted.secret(key) : (mounted.secret(key) ?? secretPlaceholder(key))),
  };
  // Each top-level field on its own, so an error names `FILE: spec.ldap.readerPassword`.
  const resolved = naming(mounts.secretsDir, () => Object.fromEntries(
    Object.entries(redacted).map(([k, v]) => [k, resolveInValue(v as unknown, values, `${file}: ${k}`)]),
  ));
  return validateSpec(resolved, file);
}

/**
 * The files of a mounted ConfigMap, placeholders resolved. A ConfigMap volume holds each key as a symlink
 * into a timestamped `..2024_…` directory reached through `..data`; names starting with `.` are never keys
 * of ours and are skipped, and only what resolves to a regular file is read.
 */
export function mountedConfigFiles(dir: string, values: PlaceholderValues, secretsDir: string): ConfigFiles {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new MailfleetError('INSTANCE_START_FAILED', `${dir}: cannot read the mounted config directory`, { cause: err });
  }
  const files: ConfigFiles = {};
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    files[name] = naming(secretsDir, () => resolvePlaceholders(readFileSync(path, 'utf8'), values, path));
  }
  return files;
}

/** The pod's config source: every start and every reload installs what the ConfigMap mount holds now. */
export function mountedConfigSource(mounts: PodMounts, podName: string): ConfigSource {
  return () => mountedConfigFiles(mounts.configFrom, podPlaceholderValues(mounts.secretsDir, podName), mounts.secretsDir);
}
