import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Peers } from '../config/index.ts';
import { MailfleetError, errorMessage } from '../errors.ts';
import { readSecretFile } from '../files.ts';
import { serveProbeEndpoints, verdict } from '../http-responder.ts';
import { redisCa } from '../internal-tls/index.ts';
import { createLogger } from '../log.ts';
import {
  createPolicyServer, loadPolicyRulesFile, DEADLINE_MS, DEFAULT_KEY_PREFIX, type PolicyRules, type RedisOptions,
} from '../policy/index.ts';
import { parse, usageError } from './args.ts';
import { isLoopbackAddress } from '../sockets.ts';
import { resolveStateDir } from './state.ts';

const USAGE = `mailfleet policy --rules FILE [--redis HOST:PORT] [--redis-password-file FILE] [--redis-tls platform|CA-FILE] [--listen HOST:PORT]
                 [--auth-listen HOST:PORT --auth-key-file FILE [--auth-tls-name NAME,...]]
                 [--metrics HOST:PORT] [--platform NAME] [--deadline-ms ${DEADLINE_MS}] [--name NAME]
       mailfleet policy [--state-dir DIR] [--listen HOST:PORT] [--auth-listen HOST:PORT [--auth-tls-name NAME,...]] [--metrics HOST:PORT] [--name NAME]`;

const OPTIONS = {
  rules: { type: 'string' },
  redis: { type: 'host-port' },
  'redis-password-file': { type: 'string' },
  // TLS to Redis: `platform` trusts the CA derived from the password (what a platform's kvs serves), else a CA file.
  'redis-tls': { type: 'string' },
  // Loopback by default: nothing outside the host reaches it unless asked.
  listen: { type: 'host-port', default: '127.0.0.1:10040' },
  metrics: { type: 'host-port' },
  // Dovecot's auth policy (HTTP): off unless asked for; it needs the credential the proxies send.
  'auth-listen': { type: 'host-port' },
  'auth-key-file': { type: 'string' },
  // The names the proxies dial, for the HTTPS certificate (the listen address when it is not a wildcard).
  'auth-tls-name': { type: 'string' },
  platform: { type: 'name' },
  'deadline-ms': { type: 'integer', min: 5, max: 10_000, unit: 'milliseconds' },
  name: { type: 'string' },
  'state-dir': { type: 'string', short: 's' },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

/** The Redis password: from a file (a mounted Secret), else MAILFLEET_REDIS_PASSWORD, else none. */
function redisPassword(file: string | undefined): string | undefined {
  if (file) return readSecretFile(file, '--redis-password-file');
  return process.env.MAILFLEET_REDIS_PASSWORD || undefined;
}

const isLoopback = (host: string): boolean => host === 'localhost' || isLoopbackAddress(host);

/**
 * TLS to Redis from `--redis-tls`: `platform` trusts the CA derived from the password, as a platform's kvs serves it;
 * anything else names a PEM file of the CAs to trust. Without it the connection is plaintext, refused when it would
 * carry the password beyond loopback.
 */
function redisTls(given: string | undefined, password: string | undefined, host: string): RedisOptions['tls'] {
  if (given === 'platform') {
    if (password === undefined) throw usageError(USAGE, '--redis-tls platform: the CA is derived from the Redis password; give --redis-password-file');
    return { ca: redisCa(password).certPem };
  }
  if (given !== undefined) {
    let ca: string;
    try {
      ca = readFileSync(given, 'utf8');
    } catch (err) {
      throw new MailfleetError('USAGE', `--redis-tls ${given}: cannot read the CA file (${errorMessage(err)})`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new MailfleetError('USAGE', `--redis-tls ${given}: no PEM certificate in it`);
    return { ca };
  }
  if (password !== undefined && !isLoopback(host)) {
    throw usageError(USAGE, `--redis ${host}: the password would cross the network in clear; give --redis-tls platform (a platform's kvs) or --redis-tls CA-FILE`);
  }
  return undefined;
}

/** Where the rules, Redis and the deadline come from, read again on SIGHUP. */
interface Source {
  rules(): PolicyRules;
  redis(): RedisOptions;
  keyPrefix: string;
  deadlineMs: number;
  /** The credential of Dovecot's auth policy requests; undefined: none configured. */
  authKey: string | undefined;
  /** What a reload reads, for the log line of a failed one. */
  describe: string;
}

/** Kubernetes (or any other place): a rules file, Redis and its password from the flags. */
function explicitSource(values: Values, file: string): Source {
  const password = redisPassword(values['redis-password-file']);
  const address = values.redis ?? { host: '127.0.0.1', port: 6379 };
  const tls = redisTls(values['redis-tls'], password, address.host);
  const redis = { ...address, ...(password === undefined ? {} : { password }), ...(tls === undefined ? {} : { tls }) };
  return {
    rules: () => loadPolicyRulesFile(file),
    redis: () => redis,
    keyPrefix: values.platform ? `mailfleet:${values.platform}:policy:` : DEFAULT_KEY_PREFIX,
    deadlineMs: values['deadline-ms'] ?? DEADLINE_MS,
    authKey: values['auth-key-file'] === undefined ? undefined : readSecretFile(values['auth-key-file'], '--auth-key-file'),
    describe: file,
  };
}

/**
 * The single host's `policy` instance: the running platform's spec (its `policy` rules, the generated Redis
 * password) from the state dir, Redis where peers.json says kvs is now. The runtime signals SIGHUP when kvs
 * moves; both files are read again then.
 */
async function platformSource(values: Values): Promise<Source> {
  for (const flag of ['redis', 'redis-password-file', 'redis-tls', 'platform', 'deadline-ms', 'auth-key-file'] as const) {
    if (values[flag] !== undefined) throw usageError(USAGE, `--${flag} comes from the platform's spec without --rules`);
  }
  const stateDir = resolveStateDir(values);
  const specFile = join(stateDir, 'spec.json');
  // The runtime's peers.json (agent/paths.ts peersFile), read without loading the agent.
  const peersFile = join(stateDir, 'peers.json');
  if (!existsSync(specFile)) {
    throw new MailfleetError('RUNTIME_NOT_RUNNING', `${specFile} is missing: no platform runs on ${stateDir} (start one with 'mailfleet up', or give --rules FILE and --redis HOST:PORT)`);
  }
  const { authPolicyRuns, requireSecret, validateSpec } = await import('../spec/index.ts');
  const load = () => validateSpec(JSON.parse(readFileSync(specFile, 'utf8')), specFile);
  const first = load();
  return {
    rules: () => {
      const { defaultAction, exempt, rules, auth } = load().spec.policy;
      return { defaultAction, exempt, rules, auth: { exempt: auth.exempt, rules: auth.rules } };
    },
    redis: () => {
      const kvs = (JSON.parse(readFileSync(peersFile, 'utf8')) as Peers).kvs[0];
      if (kvs === undefined) throw new MailfleetError('INSTANCE_START_FAILED', `${peersFile}: no kvs instance runs, and the policy server counts in it`);
      const password = requireSecret(first.spec, 'redisPassword');
      // The kvs serves TLS only, with a certificate of the CA derived from the password, for its address.
      return { host: kvs.host, port: first.spec.ports.redis, password, tls: { ca: redisCa(password).certPem } };
    },
    keyPrefix: `mailfleet:${first.metadata.name}:policy:`,
    deadlineMs: first.spec.policy.deadlineMs,
    authKey: authPolicyRuns(first.spec) ? requireSecret(first.spec, 'authPolicyApiKey') : undefined,
    describe: `${specFile} and ${peersFile}`,
  };
}

/**
 * The names of the auth policy listener's certificate (it always serves HTTPS: the requests carry the credential):
 * `--auth-tls-name`, else the address it listens on; a wildcard address names nothing a proxy dials.
 */
function authTlsNames(host: string, given: string | undefined): string[] {
  const names = (given ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length > 0) return names;
  if (host === '0.0.0.0' || host === '::') throw usageError(USAGE, `--auth-tls-name is required with --auth-listen on ${host}: the name the proxies dial`);
  return [host];
}

/**
 * `mailfleet policy`: the Postfix policy server (the `policy` role). With --rules, the rules come from a YAML or
 * JSON file and Redis from the flags (a Kubernetes pod); without, from the platform running on the state dir
 * (the single host's instance). Either is checked before any socket opens; SIGHUP reads them again and, when
 * valid, applies them without dropping a connection (invalid: logged, the ones in force stay). SIGTERM/SIGINT
 * drain and stop. `--name` labels its metrics `role="policy", instance=NAME`.
 */
export async function policyCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS, USAGE);
  const source = values.rules === undefined ? await platformSource(values) : explicitSource(values, values.rules);
  const rules = source.rules();
  const log = values.name === undefined ? createLogger('policy') : createLogger('policy').child({ instance: values.name });
  const registry = new Registry();
  if (values.name !== undefined) registry.setDefaultLabels({ role: 'policy', instance: values.name });
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());

  const authListen = values['auth-listen'];
  if (authListen !== undefined && source.authKey === undefined) {
    throw usageError(USAGE, values.rules === undefined ? "--auth-listen: the platform's spec does not run the auth policy (spec.policy.auth.enabled and a proxy)" : '--auth-listen needs --auth-key-file');
  }
  const auth = authListen === undefined || source.authKey === undefined
    ? undefined
    : { listen: authListen, apiKey: source.authKey, tlsNames: authTlsNames(authListen.host, values['auth-tls-name']) };
  const server = createPolicyServer({ rules, redis: source.redis(), listen: values.listen, log, registry, keyPrefix: source.keyPrefix, deadlineMs: source.deadlineMs, ...(auth ? { auth } : {}) });
  const reload = (): void => {
    try {
      const next = source.rules();
      const redis = source.redis();
      server.reload(next);
      server.redirect(redis);
    } catch (err) {
      const details = err instanceof MailfleetError ? err.details : [];
      log.error({ from: source.describe, err: errorMessage(err), problems: details }, 'policy rules not reloaded, the rules in force stay');
    }
  };
  process.on('SIGHUP', reload);
  const http = values.metrics
    ? await serveProbeEndpoints({
      ...values.metrics, metrics: registry, live: () => verdict(true), ready: () => verdict(server.ready()), log,
    })
    : undefined;
  try {
    await server.start(abort.signal);
  } finally {
    process.off('SIGHUP', reload);
    await http?.close();
  }
  return 0;
}
