/**
 * The files rspamd's dkim_signing module reads, rendered from the keyring: one flat directory, the same on
 * both runtimes (the single host's `STATE/dkim/signing/`, a pod's mount of the `<platform>-dkim` Secret).
 */
import { rspamdKeyText } from './keys.ts';
import type { Keyring } from './keyring.ts';

/** The selector map (`selector_map`): one `domain selector` line per domain that signs. */
export const SELECTOR_MAP_FILE = 'selectors.map';
/** The key path template (`path`), relative to the directory: rspamd fills in `$domain` and `$selector`. */
export const KEY_PATH_TEMPLATE = '$domain.$selector.key';

/** `example.com.mf20250314.key`: the file {@link KEY_PATH_TEMPLATE} names for a selector. */
export function signingKeyFileName(domain: string, selector: string): string {
  return KEY_PATH_TEMPLATE.replace('$domain', domain).replace('$selector', selector);
}

/**
 * File name → text: the selector map naming each domain's active selector, and a key file for the active
 * and every retiring selector (a replaced key stays until retired, so an rspamd that has not reloaded its
 * map yet still finds the key its old map names). Pending keys are not there: nothing signs with them.
 * `privateKeyPem` reads a selector's key from the store.
 */
export function dkimSigningFiles(ring: Keyring, privateKeyPem: (domain: string, selector: string) => string): Record<string, string> {
  const files: Record<string, string> = {};
  const map: string[] = [];
  for (const domain of Object.keys(ring.domains).sort()) {
    const keys = ring.domains[domain];
    if (!keys) continue;
    for (const e of keys.selectors) {
      if (e.state !== 'active' && e.state !== 'retiring') continue;
      files[signingKeyFileName(domain, e.selector)] = rspamdKeyText(privateKeyPem(domain, e.selector), `the key of ${domain} selector ${e.selector}`);
      if (e.state === 'active') map.push(`${domain} ${e.selector}\n`);
    }
  }
  files[SELECTOR_MAP_FILE] = map.join('');
  return files;
}
