import { readFileSync } from 'node:fs';
import { MailfleetError, errorMessage } from '../errors.ts';
import { createLogger } from '../log.ts';
import { createPolicyServer, loadPolicyRulesFile, startPolicyHttp, DEADLINE_MS, DEFAULT_KEY_PREFIX } from '../policy/index.ts';
import { parse } from './args.ts';

const USAGE = `mailfleet policy --rules FILE --redis HOST:PORT [--redis-password-file FILE] [--listen HOST:PORT]
                 [--metrics HOST:PORT] [--platform NAME] [--deadline-ms ${DEADLINE_MS}]`;

/** The Redis password: from a file (a mounted Secret), else MAILFLEET_REDIS_PASSWORD, else none. */
function redisPassword(file: string | undefined): string | undefined {
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new MailfleetError('USAGE', `--redis-password-file: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
    }
  }
  return process.env.MAILFLEET_REDIS_PASSWORD || undefined;
}

/**
 * `mailfleet policy`: the Postfix policy server (the `policy` role). Rules come from a YAML or JSON file, checked
 * before any socket opens; SIGHUP reads the file again and, when it is valid, applies it without dropping a
 * connection (an invalid file is logged and the rules in force stay). SIGTERM/SIGINT drain and stop.
 */
export async function policyCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    rules: { type: 'string' },
    redis: { type: 'host-port', default: '127.0.0.1:6379' },
    'redis-password-file': { type: 'string' },
    // Loopback by default: nothing outside the host reaches it unless asked.
    listen: { type: 'host-port', default: '127.0.0.1:10040' },
    metrics: { type: 'host-port' },
    platform: { type: 'name' },
    'deadline-ms': { type: 'integer', min: 5, max: 10_000, unit: 'milliseconds', default: DEADLINE_MS },
  }, USAGE);
  if (!values.rules) throw new MailfleetError('USAGE', `--rules is required\nusage: ${USAGE}`);
  const rulesFile = values.rules;
  const rules = loadPolicyRulesFile(rulesFile);
  const password = redisPassword(values['redis-password-file']);
  const log = createLogger('policy');
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());

  const server = createPolicyServer({
    rules,
    redis: { ...values.redis, ...(password === undefined ? {} : { password }) },
    listen: values.listen,
    log,
    keyPrefix: values.platform ? `mailfleet:${values.platform}:policy:` : DEFAULT_KEY_PREFIX,
    deadlineMs: values['deadline-ms'],
  });
  const reload = (): void => {
    try {
      server.reload(loadPolicyRulesFile(rulesFile));
    } catch (err) {
      const details = err instanceof MailfleetError ? err.details : [];
      log.error({ file: rulesFile, err: errorMessage(err), problems: details }, 'policy rules not reloaded, the rules in force stay');
    }
  };
  process.on('SIGHUP', reload);
  const http = values.metrics
    ? await startPolicyHttp({ ...values.metrics, registry: server.metrics.registry, ready: () => server.ready() })
    : undefined;
  try {
    await server.start(abort.signal);
  } finally {
    process.off('SIGHUP', reload);
    http?.close();
  }
  return 0;
}
