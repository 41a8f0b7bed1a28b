/**
 * Redis's side of TLS on the Redis hop (src/config/redis.ts): the kvs agent issues the certificate Redis serves from
 * the CA derived from the Redis password, for the address and DNS name clients dial, at each start and before it runs
 * out; Redis reads the new one when its agent sets `tls-cert-file` again over Redis's own unix socket, without a
 * restart (connections keep their sessions).
 */
import { redisSocketPath, redisTlsPath, type InstanceContext, type Peers } from '../config/index.ts';
import { redisCa } from '../internal-tls/index.ts';
import { redisCommand } from '../protocol/index.ts';
import { requireSecret, type PlatformSpec } from '../spec/index.ts';
import { renewInternalTls, selfCheckedTlsHosts, writeServedCertificate, type InternalTlsRenewal, type RenewalContext } from './internal-tls.ts';

const RELOAD_TIMEOUT_MS = 10_000;

/**
 * The names Redis's certificate holds: the address and DNS name clients dial and, where Redis listens on every address
 * (a pod), 127.0.0.1, which its agent's readiness check dials.
 */
export function redisTlsHosts(instance: InstanceContext, peers: Peers): string[] {
  return selfCheckedTlsHosts(instance, peers.kvs.find((p) => p.name === instance.name)?.host);
}

/** Writes Redis's certificate (key, then certificate; readable by the agent's user alone, which Redis runs as) and returns its end. */
export function installRedisTls(spec: PlatformSpec, instance: InstanceContext, peers: Peers, now = Date.now()): Date {
  return writeServedCertificate(instance, redisCa(requireSecret(spec, 'redisPassword')), redisTlsHosts(instance, peers), redisTlsPath(instance), now);
}

/** Has Redis read its certificate file again: setting `tls-cert-file` (even to the same file) rebuilds its TLS context. */
export async function reloadRedisTls(spec: PlatformSpec, instance: InstanceContext): Promise<void> {
  const file = redisTlsPath(instance);
  await redisCommand({
    host: instance.listen,
    port: spec.ports.redis,
    socketPath: redisSocketPath(instance),
    password: requireSecret(spec, 'redisPassword'),
    args: ['CONFIG', 'SET', 'tls-cert-file', file, 'tls-key-file', file],
    timeoutMs: RELOAD_TIMEOUT_MS,
  });
}

/** Keeps Redis's certificate current; exports its end as `mailfleet_agent_redis_tls_expiry_timestamp_seconds`. */
export function renewRedisTls(opts: RenewalContext & { spec: PlatformSpec; instance: InstanceContext; peers: () => Peers }): InternalTlsRenewal {
  const { spec, instance, peers, ...context } = opts;
  const now = opts.now ?? Date.now;
  return renewInternalTls({
    ...context,
    issue: () => installRedisTls(spec, instance, peers(), now()),
    reload: () => reloadRedisTls(spec, instance),
    metric: { name: 'mailfleet_agent_redis_tls_expiry_timestamp_seconds', help: 'When the certificate Redis serves its clients runs out (it is replaced 10 days before)' },
    what: 'Redis TLS certificate',
  });
}
