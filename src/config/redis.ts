import { join } from 'node:path';
import { requireSecret } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput, InstanceContext } from './context.ts';

/** The certificate Redis serves (key, then certificate; its user only), which its agent issues. */
export function redisTlsPath(instance: InstanceContext): string {
  return join(instance.runDir, 'redis-tls.pem');
}

/** Redis's unix socket for its own agent (readiness at every probe, the certificate's reload): its user only. */
export function redisSocketPath(instance: InstanceContext): string {
  return join(instance.runDir, 'redis.sock');
}

/**
 * Redis for the `kvs` role: foreground, logs on stdout, append-only persistence in the data directory. Every
 * client authenticates (`requirepass`, the default user's password: the platform's clients are the policy
 * servers, the filters' rspamd and the agent's readiness check); in Kubernetes the password is a Secret placeholder
 * the agent fills.
 *
 * The password crosses the network inside TLS only: the TCP port serves TLS 1.3 alone (`port 0`, `tls-port`), with a
 * certificate the agent issues from the Redis hop's CA (src/internal-tls/client-cas.ts), which clients check. Clients
 * present no certificate (`tls-auth-clients no`): the password is what admits them.
 */
export function redisFiles({ spec, instance }: ConfigInput): ConfigFiles {
  const tls = redisTlsPath(instance);
  return {
    'redis.conf': [
      `bind ${instance.listen}`,
      'port 0',
      `tls-port ${spec.ports.redis}`,
      `tls-cert-file ${tls}`,
      `tls-key-file ${tls}`,
      'tls-auth-clients no',
      'tls-protocols "TLSv1.3"',
      `unixsocket ${redisSocketPath(instance)}`,
      'unixsocketperm 600',
      // Listening beyond loopback with a password: protected mode would refuse nothing more.
      'protected-mode no',
      `requirepass ${requireSecret(spec, 'redisPassword')}`,
      'daemonize no',
      'supervised no',
      'logfile ""',
      `dir ${instance.dataDir}`,
      `pidfile ${instance.runDir}/redis.pid`,
      'save ""',
      'appendonly yes',
      'appendfsync everysec',
      'tcp-keepalive 60',
      // Keep the config path in the process title so the instance's processes can be told apart.
      'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"',
      'maxclients 10000',
      '',
    ].join('\n'),
  };
}
