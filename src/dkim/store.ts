/**
 * The DKIM key store on disk, under the state directory:
 *
 *   STATE/dkim/                          0711  searchable, not listable (rspamd's user reaches signing/)
 *   STATE/dkim/index.json                0600  the keyring (keyring.ts): domains, selectors, states, times
 *   STATE/dkim/keys/<domain>/<sel>.pem   0600  PKCS#8 private keys of every selector not retired (dirs 0700)
 *   STATE/dkim/signing/                  0700  what rspamd reads (signing-files.ts); its owner is the runtime's
 *                                              choice, and every file written there takes that owner
 *   STATE/dkim/lock                      0600  held (with the holder's pid) while a command changes the store
 *
 * Every file is written through a temporary file and a rename. A change writes new keys first, then the
 * index, then the signing directory (keys before the selector map that names them), and deletes the keys
 * of retired selectors last: a crash at any point leaves an index whose keys exist.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MailfleetError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { dkimPublicKeyOf, MAX_KEY_PEM_BYTES } from './keys.ts';
import { emptyKeyring, liveEntries, type Keyring, type SelectorEntry } from './keyring.ts';
import { parseKeyring, serializeKeyring, MAX_INDEX_BYTES } from './keyring-file.ts';
import { dkimSigningFiles, SELECTOR_MAP_FILE } from './signing-files.ts';

const ROOT_MODE = 0o711;
const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

export interface DkimPaths {
  root: string;
  index: string;
  keys: string;
  signing: string;
  lock: string;
}

export function dkimPaths(stateDir: string): DkimPaths {
  const root = join(resolve(stateDir), 'dkim');
  return { root, index: join(root, 'index.json'), keys: join(root, 'keys'), signing: join(root, 'signing'), lock: join(root, 'lock') };
}

export function privateKeyPath(paths: DkimPaths, domain: string, selector: string): string {
  return join(paths.keys, domain, `${selector}.pem`);
}

/** Creates the store's directories with their modes (again each time: a loosened mode is put back). */
export function prepareDkimDirs(paths: DkimPaths): void {
  try {
    mkdirSync(paths.root, { recursive: true, mode: ROOT_MODE });
    chmodSync(paths.root, ROOT_MODE);
    for (const dir of [paths.keys, paths.signing]) {
      mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      chmodSync(dir, PRIVATE_DIR_MODE);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (the state directory is root\'s: run as root, or give --state-dir)' : '';
    throw new MailfleetError('DKIM_STORE_INVALID', `cannot prepare the DKIM key store in ${paths.root}: ${code}${hint}`, { cause: err });
  }
}


function readBounded(path: string, max: number, what: string): string | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new MailfleetError('DKIM_STORE_INVALID', `${path}: not a regular file (${what})`);
    if (st.size > max) throw new MailfleetError('DKIM_STORE_INVALID', `${path}: ${st.size} bytes; ${what} has at most ${max}`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof MailfleetError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MailfleetError('DKIM_STORE_INVALID', `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** The keyring in the store; an empty one when there is no index yet. */
export function loadKeyring(paths: DkimPaths): Keyring {
  const text = readBounded(paths.index, MAX_INDEX_BYTES, 'a DKIM index');
  return text === undefined ? emptyKeyring() : parseKeyring(text, paths.index);
}

/** A selector's private key, checked against the public key the index holds for it. */
export function readPrivateKey(paths: DkimPaths, domain: string, entry: SelectorEntry): string {
  const path = privateKeyPath(paths, domain, entry.selector);
  const pem = readBounded(path, MAX_KEY_PEM_BYTES, 'a PEM private key');
  if (pem === undefined) throw new MailfleetError('DKIM_STORE_INVALID', `${path}: missing: the private key of ${domain} selector ${entry.selector} (${entry.state})`);
  const facts = dkimPublicKeyOf(pem, path);
  if (facts.algorithm !== entry.algorithm || facts.publicKey !== entry.publicKey) {
    throw new MailfleetError('DKIM_STORE_INVALID', `${path}: not the key ${paths.index} lists for ${domain} selector ${entry.selector}`);
  }
  return pem;
}

/** A key reader over the store for {@link dkimSigningFiles}. */
export function storeKeyReader(paths: DkimPaths, ring: Keyring): (domain: string, selector: string) => string {
  return (domain, selector) => {
    const entry = ring.domains[domain]?.selectors.find((e) => e.selector === selector);
    if (!entry) throw new MailfleetError('DKIM_STORE_INVALID', `${paths.index}: ${domain} has no selector ${selector}`);
    return readPrivateKey(paths, domain, entry);
  };
}

/**
 * Puts exactly `files` in `dir` (created 0700 if absent): each written 0600 with the directory's owner, the
 * selector map last (it names the keys), then files no longer wanted removed.
 */
export function installSigningFiles(dir: string, files: Readonly<Record<string, string>>): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const st = statSync(dir);
  const owner = typeof process.getuid === 'function' && process.getuid() === 0 && (st.uid !== 0 || st.gid !== 0) ? { uid: st.uid, gid: st.gid } : undefined;
  const names = Object.keys(files).sort((a, b) => Number(a === SELECTOR_MAP_FILE) - Number(b === SELECTOR_MAP_FILE));
  for (const name of names) writeFileAtomic(join(dir, name), files[name] ?? '', { mode: PRIVATE_FILE_MODE, ...(owner ? { owner } : {}) });
  for (const name of readdirSync(dir)) if (!(name in files)) rmSync(join(dir, name), { force: true });
}

/** A private key that a change adds to the store. */
export interface NewKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
}

/** Writes a changed keyring: new keys, the index, the signing directory, then drops keys no selector needs. */
export function commitKeyring(paths: DkimPaths, ring: Keyring, added: readonly NewKey[]): void {
  prepareDkimDirs(paths);
  for (const key of added) {
    const dir = join(paths.keys, key.domain);
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    chmodSync(dir, PRIVATE_DIR_MODE);
    writeFileAtomic(privateKeyPath(paths, key.domain, key.selector), key.privateKeyPem, { mode: PRIVATE_FILE_MODE });
  }
  writeFileAtomic(paths.index, serializeKeyring(ring), { mode: PRIVATE_FILE_MODE });
  installSigningFiles(paths.signing, dkimSigningFiles(ring, storeKeyReader(paths, ring)));
  const keep = new Set(liveEntries(ring).map(({ domain, entry }) => privateKeyPath(paths, domain, entry.selector)));
  for (const domain of readdirSync(paths.keys)) {
    const dir = join(paths.keys, domain);
    for (const name of readdirSync(dir)) if (!keep.has(join(dir, name))) rmSync(join(dir, name), { force: true });
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  }
}

function holderAlive(lock: string): boolean {
  const pid = Number(readBounded(lock, 64, 'a lock file')?.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `change` holding the store's lock: one command changes the store at a time. A lock whose holder has
 * gone (killed mid-change) is taken over; a live holder's is refused with DKIM_STORE_BUSY. (Two commands that
 * find the same dead holder's lock at the same instant may both take it over: only after a crash, and only then.)
 */
export async function withDkimLock<T>(paths: DkimPaths, change: () => Promise<T>): Promise<T> {
  prepareDkimDirs(paths);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(paths.lock, 'wx', PRIVATE_FILE_MODE);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (attempt > 0 || holderAlive(paths.lock)) {
        throw new MailfleetError('DKIM_STORE_BUSY', `${paths.lock}: another mailfleet command (pid ${readBounded(paths.lock, 64, 'a lock file')?.trim() ?? '?'}) is changing the DKIM keys; try again when it has finished`);
      }
      unlinkSync(paths.lock);
    }
  }
  try {
    return await change();
  } finally {
    rmSync(paths.lock, { force: true });
  }
}
