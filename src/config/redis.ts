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
      'maxclients 10000',
      '',
    ].join('\n'),
  };
}
