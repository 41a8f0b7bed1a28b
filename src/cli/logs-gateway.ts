/** `mailfleet logs-gateway`: Loki's pushes and reads only, from the pod network to Loki on the pod's loopback (src/logs/gateway.ts). */
import { createLogger } from '../log.ts';
import { startLogsGateway } from '../logs/index.ts';
import { parse, usageError } from './args.ts';

const USAGE = 'mailfleet logs-gateway --upstream HOST:PORT [--listen HOST:PORT]';
const DEFAULT_LISTEN = '127.0.0.1:3100';
/** How long requests in flight may finish after SIGTERM. */
const STOP_GRACE_MS = 10_000;

export async function logsGatewayCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { upstream: { type: 'host-port' }, listen: { type: 'host-port', default: DEFAULT_LISTEN } }, USAGE);
  if (values.upstream === undefined) throw usageError(USAGE, '--upstream is required: where Loki listens');
  const log = createLogger('logs-gateway');
  const gateway = await startLogsGateway({ host: values.listen.host, port: values.listen.port, upstream: values.upstream, log });
  log.info({ address: gateway.address.address, port: gateway.address.port, upstream: `${values.upstream.host}:${values.upstream.port}` }, 'logs gateway listening');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await gateway.close(STOP_GRACE_MS);
  log.info('logs gateway stopped');
  return 0;
}
