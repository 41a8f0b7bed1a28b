import { join } from 'node:path';
import { quantityValue, requireSecret, type PlatformSpec } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput, InstanceContext } from './context.ts';

/** The certificate Redis serves (key, then certificate; its user only), which its agent issues. */
export function redisTlsPath(instance: InstanceContext): string {
  return join(instance.runDir, 'redis-tls.pem');
}

/** Redis's unix socket for its own agent (readiness at every probe, the certificate's reload): its user only. */
export function redisSocketPath(instance: InstanceContext): string {
  return join(instance.runDir, 'redis.sock');
}

/** The share of the kvs's memory limit Redis may fill: the rest is its own overhead and the fork of an AOF rewrite. */
const MAXMEMORY_SHARE = 0.6;

/**
 * Redis's `maxmemory` in bytes: a share of the kvs's memory limit (`spec.kubernetes.resources.kvs.limits.memory`, on
 * the single host too, so that it behaves as its pod does). Reaching it, Redis evicts the least recently used keys that
 * carry a TTL (the policy servers' counters, which then start afresh) and refuses writes only when none is left, which
 * the policy servers answer with their default action; the Redis alert pack warns at 90 %.
 */
export function redisMaxMemoryBytes(spec: PlatformSpec): number {
  return Math.floor(quantityValue(spec.kubernetes.resources.kvs.limits.memory) * MAXMEMORY_SHARE);
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
      `maxmemory ${redisMaxMemoryBytes(spec)}`,
      'maxmemory-policy volatile-lru',
      '',
    ].join('\n'),
  };
}
