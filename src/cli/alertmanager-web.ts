/**
 * `mailfleet render alertmanager-web`: Alertmanager's web config (basic auth) for the metrics admin key, hashed
 * with bcrypt and a fresh salt, the only form Alertmanager accepts. In Kubernetes an init container of the
 * Alertmanager pod writes it from the mounted Secret into a volume only that pod has, so neither the render nor a
 * ConfigMap ever holds the key or its hash, and the render stays the same bytes for the same spec.
 */
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { ALERTMANAGER_WEB_CONFIG_FILE, alertmanagerWebConfig } from '../config/index.ts';
import { readSecretFile } from '../files.ts';

/** bcrypt's cost: Alertmanager checks it on every request, so not more than its own examples use. */
const BCRYPT_COST = 10;

export function writeAlertmanagerWebConfig(passwordFile: string, output: string): void {
  const key = readSecretFile(passwordFile, 'the metrics admin key file');
  const text = alertmanagerWebConfig(bcrypt.hashSync(key, BCRYPT_COST))[ALERTMANAGER_WEB_CONFIG_FILE] as string;
  // Readable by Alertmanager's group (the pod's fsGroup), written whole or not at all.
  writeFileSync(`${output}.tmp`, text, { mode: 0o640 });
  chmodSync(`${output}.tmp`, 0o640);
  renameSync(`${output}.tmp`, output);
}
