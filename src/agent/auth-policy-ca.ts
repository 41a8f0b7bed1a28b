/**
 * A proxy's side of TLS on the auth policy hop: its agent writes the hop's CA (derived from the credential it holds,
 * src/internal-tls/client-cas.ts) where its Dovecot's auth process reads it (`ssl_client_ca_file`), before Dovecot
 * starts. A public certificate: the auth process reads it as its own unprivileged user.
 */
import { authPolicyCaPath, type InstanceContext } from '../config/index.ts';
import { writeFileAtomic } from '../files.ts';
import { authPolicyCa } from '../internal-tls/index.ts';
import { authPolicyRuns, requireSecret, type PlatformSpec } from '../spec/index.ts';
import { ensureDir } from './fs.ts';

export function installAuthPolicyCa(spec: PlatformSpec, instance: InstanceContext): void {
  if (instance.role !== 'proxy' || !authPolicyRuns(spec)) return;
  ensureDir(instance.runDir, 0o755);
  writeFileAtomic(authPolicyCaPath(instance), authPolicyCa(requireSecret(spec, 'authPolicyApiKey')).certPem, { mode: 0o644 });
}
