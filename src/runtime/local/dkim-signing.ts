/**
 * The single host's DKIM signing directory for rspamd (src/dkim has the store): at start, while the platform runs
 * rspamd, the store's directories are made with their modes, the signing directory is given to rspamd's account
 * (files written there later by `mailfleet dkim` take its owner) and rewritten from the keyring, so that it holds
 * what the last change left even if that ran before the directory was rspamd's.
 */
import { chownSync } from 'node:fs';
import { RSPAMD_USER, systemAccount } from '../../agent/index.ts';
import { dkimPaths, dkimSigningFiles, installSigningFiles, loadKeyring, prepareDkimDirs, storeKeyReader } from '../../dkim/index.ts';

export function prepareDkimSigning(stateDir: string): void {
  const paths = dkimPaths(stateDir);
  prepareDkimDirs(paths);
  const { uid, gid } = systemAccount(RSPAMD_USER);
  chownSync(paths.signing, uid, gid);
  const ring = loadKeyring(paths);
  installSigningFiles(paths.signing, dkimSigningFiles(ring, storeKeyReader(paths, ring)));
}
