import { Registry } from 'prom-client';
import { createPostfixExporter, followFile, readLines } from '../exporter/index.ts';
import { serveProbeEndpoints } from '../http-responder.ts';
import { createLogger } from '../log.ts';
import { notASubcommand, parse, usageError } from './args.ts';

const USAGE = 'mailfleet exporter postfix --log FILE|- [--from-start] [--showq PATH] [--listen HOST:PORT]';

/** The port prometheus-postfix-exporter listens on; loopback unless told otherwise. */
const DEFAULT_LISTEN = '127.0.0.1:9154';

async function postfixCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    log: { type: 'string' },
    'from-start': { type: 'boolean' },
    showq: { type: 'string' },
    listen: { type: 'host-port', default: DEFAULT_LISTEN },
  }, USAGE);
  if (values.log === undefined && values.showq === undefined) throw usageError(USAGE, 'give --log (a file, or - for stdin), --showq, or both');
  if (values.log === '-' && values['from-start'] === true) throw usageError(USAGE, '--from-start is for a file, not stdin');

  const log = createLogger('postfix-exporter');
  const registry = new Registry();
  const exporter = createPostfixExporter({ registry, log, ...(values.showq === undefined ? {} : { showqPath: values.showq }) });
  const server = await serveProbeEndpoints({ host: values.listen.host, port: values.listen.port, metrics: registry, log });
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());
  log.info({ log: values.log, showq: values.showq, address: server.address.address, port: server.address.port }, 'postfix exporter listening');

  const line = (bytes: Buffer) => exporter.line(bytes);
  try {
    if (values.log === '-') {
      await readLines(process.stdin, line, abort.signal);
      if (!abort.signal.aborted) log.info('log input ended; still serving metrics');
    } else if (values.log !== undefined) {
      await followFile(values.log, line, abort.signal, { fromStart: values['from-start'] === true, log });
    }
    if (!abort.signal.aborted) await new Promise((resolve) => abort.signal.addEventListener('abort', resolve, { once: true }));
  } finally {
    await server.close();
  }
  log.info('postfix exporter stopped');
  return 0;
}

/** `mailfleet exporter postfix`: Postfix metrics from its log and queue, served on /metrics. */
export async function exporterCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'postfix') return postfixCommand(rest);
  throw notASubcommand(sub, USAGE);
}
