import { instanceContext, peersFile, runAgent, type LogFormat } from '../agent/index.ts';
import { createLogger } from '../log.ts';
import { loadSpecFile, ROLES, type Role } from '../spec/index.ts';
import { parse, usageError } from './args.ts';

const USAGE = 'mailfleet agent --role ROLE --name NAME --listen ADDR -f SPEC --state-dir DIR [--log-format raw|json]';

/** `mailfleet agent`: the container entrypoint, and the process the single-host runtime starts per instance. */
export async function agentCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'drain') return drainCommand(argv.slice(1));
  // A SIGHUP before the reload handler is installed must not end the agent.
  process.on('SIGHUP', () => undefined);
  const { values } = parse(argv, {
    role: { type: 'string' },
    name: { type: 'string' },
    listen: { type: 'string' },
    file: { type: 'string', short: 'f' },
    'state-dir': { type: 'string' },
    peers: { type: 'string' },
    'log-format': { type: 'string', default: 'raw' },
  }, USAGE);
  const role = values.role as Role;
  if (!ROLES.includes(role)) throw usageError(USAGE, `--role must be one of ${ROLES.join(', ')}`);
  if (!values.name || !values.listen || !values.file || !values['state-dir']) throw usageError(USAGE, 'missing --name, --listen, -f or --state-dir');
  const format = values['log-format'] as LogFormat;
  if (format !== 'raw' && format !== 'json') throw usageError(USAGE, '--log-format must be raw or json');

  const spec = loadSpecFile(values.file).spec;
  const stateDir = values['state-dir'];
  const instance = instanceContext(stateDir, role, values.name, values.listen);
  const log = createLogger('agent').child({ role, instance: instance.name });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return runAgent({
    spec,
    instance,
    peersFile: values.peers ?? peersFile(stateDir),
    logFormat: format,
    log,
    healthHost: values.listen,
    healthPort: spec.ports.http,
  }, controller.signal);
}

const DRAIN_USAGE = 'mailfleet agent drain [--url http://127.0.0.1:8081]';

/** `mailfleet agent drain`: the preStop hook. Asks the agent to drain and waits until it has. */
async function drainCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { url: { type: 'string', default: 'http://127.0.0.1:8081' } }, DRAIN_USAGE);
  const res = await fetch(`${values.url}/drain`, { method: 'POST' });
  const text = await res.text();
  process.stdout.write(text);
  if (!res.ok) return 1;
  return (JSON.parse(text) as { completed?: boolean }).completed ? 0 : 1;
}
