/**
 * DKIM keys mailfleet manages: made, listed, published (the TXT record) and rotated by `mailfleet dkim`,
 * kept in `STATE/dkim/` on the single host (store.ts has the layout) and exported as the `<platform>-dkim`
 * Secret for Kubernetes.
 *
 * What rspamd's dkim_signing module (on every `as` instance) reads: one flat directory, rendered from the
 * keyring by {@link dkimSigningFiles} — the same file names on both runtimes:
 *
 *   <dir>/selectors.map              `domain selector` per line: each domain's active selector
 *   <dir>/<domain>.<selector>.key    the private key of each active and retiring selector (rspamd 3.4's
 *                                    forms: RSA as PEM, ed25519 as base64 of the 64-byte secret key)
 *
 * `<dir>` is `dkimPaths(stateDir).signing` on the single host (kept current by every `mailfleet dkim` change;
 * files there take the directory's owner, so the runtime chowns it once to rspamd's user and rewrites the files
 * with `installSigningFiles(dir, dkimSigningFiles(ring, storeKeyReader(paths, ring)))`; `STATE/dkim` is 0711 so
 * that user can reach it) and, in a pod, `POD_PATHS.dkim`, the mount of the `<platform>-dkim` Secret
 * (`dkimVolume` in the renderer), whose keys are these file names. The rspamd 3.4 config that fits (proven
 * against a real rspamd in test/integration/dkim-rspamd.test.ts):
 *
 *   options { filters = "dkim"; }             # the internal dkim module, which dkim_signing signs through
 *   worker "controller" { … }                 # it watches maps: without it the selector map is never reread
 *   dkim_signing {
 *     path = "<dir>/$domain.$selector.key";    # KEY_PATH_TEMPLATE
 *     selector_map = "<dir>/selectors.map";    # SELECTOR_MAP_FILE (a map file: reread on change)
 *     try_fallback = false;                    # a domain without a key is not signed (the default would try selector "dkim")
 *     use_esld = false;                        # d= is the sender's domain as listed in spec.domains, not its eSLD
 *     sign_authenticated = true; sign_local = false; allow_username_mismatch = false;
 *   }
 *
 * Rotation: a new selector is `pending` (absent from the directory) until its record is visible in DNS or
 * `--force`; then it is named in the map, and the replaced key stays in the directory while `retiring`
 * (default 7 days), so an rspamd still on the old map keeps signing, and verifiers still find its record.
 */
export { DEFAULT_DKIM_ALGORITHM, DEFAULT_RSA_KEY_BITS, DKIM_ALGORITHMS, dkimPublicKeyOf, generateDkimKey, RSA_KEY_BITS, rspamdKeyText, type DkimAlgorithm, type DkimKeyPair, type DkimPublicKey, type KeyOptions } from './keys.ts';
export { DEFAULT_RETIRE_AFTER_MS, SELECTOR_STATES, type DomainKeys, type Keyring, type SelectorEntry, type SelectorState } from './keyring.ts';
export { checkPublished, dkimRecord, dkimRecordName, parseTagList, TXT_STRING_MAX_BYTES, txtStrings, type DkimRecord, type RecordCheck } from './record.ts';
export { dkimSigningFiles, KEY_PATH_TEMPLATE, SELECTOR_MAP_FILE, signingKeyFileName } from './signing-files.ts';
export { dkimPaths, installSigningFiles, loadKeyring, prepareDkimDirs, storeKeyReader, type DkimPaths } from './store.ts';
export { createTxtLookup, DNS_TIMEOUT_MS, type TxtAnswer, type TxtLookup, type TxtLookupOptions } from './dns-lookup.ts';
export { checkVisible, generateFirstKey, keyringAt, rotateDomain, syncKeyring, type RotateOutcome, type SyncEvent } from './rotation.ts';
