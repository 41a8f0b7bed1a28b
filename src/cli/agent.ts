import { join } from 'node:path';
import {
  agentSocket, instanceContext, instanceRunDir, loadPodSpec, mountedConfigSource, peersFile, PEERS_FILE_NAME, POD_PATHS, podInstanceContext,
  requestDrain, runAgent, SPEC_FILE_NAME, type AgentOrigin, type ConfigSource, type LogFormat, type PodMounts,
} from '../agent/index.ts';
import type { InstanceContext } from '../config/index.ts';
// The placeholder codec alone; the config index does not re-export it.
import type { SecretConsumer } from '../config/index.ts';
import { createLogger } from '../log.ts';
import { FILTER_ROLES, loadSpecFile, ROLES, type AgentRole, type PlatformSpec } from '../spec/index.ts';
import { parse, usageError } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = [
  'mailfleet agent --role ROLE --name NAME --listen ADDR -f SPEC --state-dir DIR [--peers FILE] [--log-format raw|json]',
  '       mailfleet agent --pod --role ROLE --name NAME [--address POD_IP] [--listen ADDR] [--config-from DIR] [--secrets DIR] [--spec-dir DIR]',
  '                       [--config-dir DIR] [--data-dir DIR] [--run-dir DIR] [--mail-dir DIR] [--log-format raw|json]',
].join('\n');

/** Options only pod mode takes, each defaulting to where the renderer mounts it (POD_PATHS). */
const POD_OPTIONS = {
  'config-from': POD_PATHS.configMap,
  secrets: POD_PATHS.secrets,
  'spec-dir': POD_PATHS.specDir,
  'config-dir': POD_PATHS.config,
  'data-dir': POD_PATHS.data,
  'run-dir': POD_PATHS.run,
  'mail-dir': POD_PATHS.mail,
} as const;
type PodOption = keyof typeof POD_OPTIONS;
const POD_OPTION_NAMES = Object.keys(POD_OPTIONS) as PodOption[];

/** What differs between the two modes; everything after it is the same agent. */
interface Wiring {
  spec: PlatformSpec;
  instance: InstanceContext;
  peersFile: string;
  healthHost: string;
  origin: AgentOrigin;
  configSource?: ConfigSource;
  awaitStart?: boolean;
}

type Values = Partial<Record<PodOption | 'listen' | 'address' | 'file' | 'state-dir' | 'peers', string>>;

/** Single host: the spec file, peers.json in the state dir, configs generated from the spec. */
function hostWiring(role: AgentRole, name: string, values: Values): Wiring {
  const used = [...POD_OPTION_NAMES, 'address' as const].filter((o) => values[o] !== undefined);
  if (used.length > 0) throw usageError(USAGE, `--${used.join(', --')} only with --pod`);
  if (!values.listen || !values.file || !values['state-dir']) throw usageError(USAGE, 'missing --name, --listen, -f or --state-dir');
  const stateDir = values['state-dir'];
  return {
    spec: loadSpecFile(values.file).spec,
    instance: instanceContext(stateDir, role, name, values.listen),
    peersFile: values.peers ?? peersFile(stateDir),
    healthHost: values.listen,
    origin: { mode: 'host', specFile: values.file },
  };
}

/**
 * Kubernetes: the spec and peers from the spec ConfigMap, secrets from the Secret mount, config files
 * installed from the role's ConfigMap with placeholders resolved. Listens on every address of the pod.
 */
function podWiring(role: AgentRole, workload: SecretConsumer, name: string, values: Values): Wiring {
  if (values.file !== undefined || values['state-dir'] !== undefined || values.peers !== undefined) {
    throw usageError(USAGE, '-f, --state-dir and --peers are not taken with --pod (the spec and peers come from --spec-dir)');
  }
  const path = (o: PodOption): string => values[o] ?? POD_OPTIONS[o];
  const mounts: PodMounts = { configFrom: path('config-from'), secretsDir: path('secrets'), specDir: path('spec-dir') };
  const pod = podInstanceContext(role, name);
  const instance: InstanceContext = {
    ...pod,
    listen: values.listen ?? pod.listen,
    ...(values.address ? { address: values.address } : {}),
    configDir: path('config-dir'),
    dataDir: path('data-dir'),
    runDir: path('run-dir'),
    mailDir: path('mail-dir'),
  };
  return {
    spec: loadPodSpec(mounts, name, workload).spec,
    instance,
    peersFile: join(mounts.specDir, PEERS_FILE_NAME),
    healthHost: instance.listen,
    origin: { mode: 'pod', specFile: join(mounts.specDir, SPEC_FILE_NAME), configFrom: mounts.configFrom, secretsDir: mounts.secretsDir },
    configSource: mountedConfigSource(mounts, name),
    // A pod waits for what its daemon needs (clamd: the updater's first signatures) instead of failing its start.
    awaitStart: true,
  };
}

/** `mailfleet agent`: the container entrypoint, and the process the single-host runtime starts per instance. */
export async function agentCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'drain') return drainCommand(argv.slice(1));
  // A SIGHUP before the reload handler is installed must not end the agent.
  process.on('SIGHUP', () => undefined);
  const { values } = parse(argv, {
    pod: { type: 'boolean', default: false },
    role: { type: 'string' },
    name: { type: 'string' },
    listen: { type: 'ip' },
    address: { type: 'ip' },
    file: { type: 'string', short: 'f' },
    'state-dir': { type: 'string' },
    peers: { type: 'string' },
    'config-from': { type: 'string' },
    secrets: { type: 'string' },
    'spec-dir': { type: 'string' },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    'run-dir': { type: 'string' },
    'mail-dir': { type: 'string' },
    'log-format': { type: 'choice', values: ['raw', 'json'], default: 'raw' },
  }, USAGE);
  // The outbound pools run Postfix exactly as an mta instance does; their config comes from their ConfigMap.
  const pool = values.pod && (values.role === 'mailout' || values.role === 'fallback');
  const role = (pool ? 'mta' : values.role) as AgentRole;
  const roles: readonly AgentRole[] = [...ROLES, ...FILTER_ROLES];
  if (!roles.includes(role)) throw usageError(USAGE, `--role must be one of ${roles.join(', ')} (with --pod also mailout, fallback)`);
  if (!values.name) throw usageError(USAGE, 'missing --name');
  const format: LogFormat = values['log-format'];

  const wiring = values.pod ? podWiring(role, (pool ? values.role : role), values.name, values) : hostWiring(role, values.name, values);
  const log = createLogger('agent').child({ role, instance: wiring.instance.name });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return runAgent({
    ...wiring,
    logFormat: format,
    log,
    healthPort: wiring.spec.ports.http,
    // The outbound pools' smtpd takes mail from the platform's own MTAs only and serves no certificate.
    ...(pool ? { servesTls: false } : {}),
  }, controller.signal);
}

const DRAIN_USAGE = [
  `mailfleet agent drain [--socket ${POD_PATHS.agentSocket}]`,
  '       mailfleet agent drain --name NAME [--state-dir DIR]',
].join('\n');

/**
 * `mailfleet agent drain`: the preStop hook. Asks the agent on its control socket (only root, or the pod's
 * user, may connect) to drain and waits until it has: exit 0 when the drain completed, 1 otherwise. On the
 * single host `--name` finds an instance's socket from the state dir.
 */
async function drainCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { socket: { type: 'string' }, name: { type: 'name' }, 'state-dir': { type: 'string' } }, DRAIN_USAGE);
  if (values.socket !== undefined && values.name !== undefined) throw usageError(DRAIN_USAGE, '--socket and --name exclude each other');
  if (values['state-dir'] !== undefined && values.name === undefined) throw usageError(DRAIN_USAGE, '--state-dir only with --name');
  const socket = values.name === undefined
    ? (values.socket ?? POD_PATHS.agentSocket)
    : agentSocket(instanceRunDir(resolveStateDir(values), values.name));
  const { status, body } = await requestDrain(socket);
  process.stdout.write(body);
  if (status !== 200) return 1;
  return (JSON.parse(body) as { completed?: boolean }).completed ? 0 : 1;
}
