import { requireSecret } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput } from './context.ts';

/**
 * Redis for the `kvs` role: foreground, logs on stdout, append-only persistence in the data directory. Every
 * client authenticates (`requirepass`, the default user's password: the platform's clients are the policy
 * servers and the agent's readiness check); in Kubernetes the password is a Secret placeholder the agent fills.
 */
export function redisFiles({ spec, instance }: ConfigInput): ConfigFiles {
  return {
    'redis.conf': [
      `bind ${instance.listen}`,
      `port ${spec.ports.redis}`,
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
