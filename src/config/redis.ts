import type { ConfigFiles, ConfigInput } from './context.ts';

/** Redis for the `kvs` role: foreground, logs on stdout, append-only persistence in the data directory. */
export function redisFiles({ spec, instance }: ConfigInput): ConfigFiles {
  return {
    'redis.conf': [
      `bind ${instance.listen}`,
      `port ${spec.ports.redis}`,
      'protected-mode no',
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
