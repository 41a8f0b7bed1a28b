import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Peers } from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { readSecretFile } from '../files.ts';
import { serveProbeEndpoints } from '../http-responder.ts';
import { createLogger, createRootLogger } from '../log.ts';
import {
  createProbeMetrics, createProber, fixedTargets, peerTargets, summarize, summaryText, type ProbeSettings, type ProbeTargets,
} from '../probe/index.ts';
// The patterns only: the spec's door loads the validator, which the explicit mode never uses.
import { ADDRESS_PATTERN, DOMAIN_PATTERN_LOOSE } from '../spec/patterns.ts';
import { parse, usageError, type HostPort } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = `mailfleet probe [--state-dir DIR | -f SPEC] [--name NAME] [--listen HOST:PORT] [--once [--json]]
       mailfleet probe --imap HOST:PORT --pop3 HOST:PORT [--msa HOST:PORT [--msa-tls implicit|starttls]] [--mta HOST:PORT]
                       --account ADDRESS --password-file FILE [--ca-file FILE] [--servername NAME]
                       [--interval SECONDS] [--timeout SECONDS] [--name NAME] [--listen HOST:PORT] [--once [--json]]`;

/** Bounds of the spec's probe.intervalSeconds and probe.timeoutSeconds. */
const INTERVAL = { type: 'integer', min: 5, max: 3600, unit: 'seconds' } as const;
const TIMEOUT = { type: 'integer', min: 1, max: 600, unit: 'seconds' } as const;

const OPTIONS = {
  'state-dir': { type: 'string', short: 's' },
  file: { type: 'string', short: 'f' },
  name: { type: 'string' },
  msa: { type: 'host-port' },
  'msa-tls': { type: 'choice', values: ['implicit', 'starttls'] },
  mta: { type: 'host-port' },
  imap: { type: 'host-port' },
  pop3: { type: 'host-port' },
  account: { type: 'string' },
  'password-file': { type: 'string' },
  'ca-file': { type: 'string' },
  servername: { type: 'string' },
  interval: INTERVAL,
  timeout: TIMEOUT,
  listen: { type: 'host-port', default: '0.0.0.0:8081' },
  once: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

/** A one-line secret from a file (a mounted Secret key); its final newline dropped. */
function readCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MailfleetError('USAGE', `--ca-file ${file}: cannot read it (${(err as Error).message})`, { cause: err });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new MailfleetError('USAGE', `--ca-file ${file}: no PEM certificate in it`);
  return text;
}

const endpoint = (hp: HostPort | undefined) => (hp === undefined ? undefined : { host: hp.host, port: hp.port });

interface Wiring {
  settings: ProbeSettings;
  targets: () => ProbeTargets;
}

/** Kubernetes (or any other place): every endpoint and the account from the flags. */
function explicitWiring(values: Values, name: string): Wiring {
  if (values.imap === undefined || values.pop3 === undefined) throw usageError(USAGE, 'give --imap and --pop3 (the proxy\'s IMAPS and POP3S endpoints)');
  if (values.msa === undefined && values.mta === undefined) throw usageError(USAGE, 'give --msa, --mta or both: the paths to probe');
  if (values.account === undefined || !new RegExp(ADDRESS_PATTERN).test(values.account)) throw usageError(USAGE, `--account: expected a mail address, got ${JSON.stringify(values.account ?? '')}`);
  if (values['password-file'] === undefined) throw usageError(USAGE, 'give --password-file (the probe account\'s password, one line)');
  if (values.servername !== undefined && !new RegExp(DOMAIN_PATTERN_LOOSE).test(values.servername)) throw usageError(USAGE, `--servername: expected a DNS name, got ${JSON.stringify(values.servername)}`);
  const targets: ProbeTargets = {
    ...(values.msa ? { msa: endpoint(values.msa) } : {}),
    ...(values.mta ? { mta: endpoint(values.mta) } : {}),
    imap: endpoint(values.imap),
    pop3: endpoint(values.pop3),
  };
  return {
    settings: {
      instance: name,
      paths: [...(values.msa ? ['msa' as const] : []), ...(values.mta ? ['mta' as const] : [])],
      account: { address: values.account, password: readSecretFile(values['password-file'], '--password-file') },
      tls: {
        ...(values['ca-file'] === undefined ? {} : { ca: readCa(values['ca-file']) }),
        ...(values.servername === undefined ? {} : { servername: values.servername }),
        msaMode: values['msa-tls'] ?? 'implicit',
      },
      heloName: `probe.${values.account.split('@')[1] ?? 'invalid'}`,
      intervalMs: (values.interval ?? 60) * 1000,
      timeoutMs: (values.timeout ?? 30) * 1000,
    },
    targets: fixedTargets(targets),
  };
}

/**
 * The single host: the running platform's spec (with its generated secrets) and CA from the state dir,
 * its instances from peers.json at every cycle. Flags given win.
 */
async function localWiring(values: Values, name: string): Promise<Wiring> {
  const stateDir = resolveStateDir(values);
  const specFile = join(stateDir, 'spec.json');
  if (!existsSync(specFile)) throw new MailfleetError('RUNTIME_NOT_RUNNING', `${specFile} is missing: no platform runs on ${stateDir} (start one with 'mailfleet up', or give the endpoints with --imap, --pop3, --msa, --mta)`);
  const { validateSpec, probePaths, requireSecret } = await import('../spec/index.ts');
  const { spec } = validateSpec(JSON.parse(readFileSync(specFile, 'utf8')), specFile);
  const caFile = values['ca-file'] ?? join(stateDir, 'tls', 'ca.crt');
  const ca = values['ca-file'] !== undefined || (spec.tls.issuer === 'local' && existsSync(caFile)) ? readCa(caFile) : undefined;
  const msaMode = values['msa-tls'] ?? 'implicit';
  // The runtime's peers.json (agent/paths.ts peersFile), read without loading the agent.
  const peers = join(stateDir, 'peers.json');
  return {
    settings: {
      instance: name,
      paths: probePaths(spec),
      account: {
        address: values.account ?? spec.probe.address,
        password: values['password-file'] === undefined ? requireSecret(spec, 'probePassword') : readSecretFile(values['password-file'], '--password-file'),
      },
      tls: { ...(ca === undefined ? {} : { ca }), servername: values.servername ?? spec.tls.certificates[0]?.hosts[0] ?? spec.hostname, msaMode },
      heloName: `probe.${spec.probe.address.split('@')[1] ?? spec.domains[0] ?? 'invalid'}`,
      intervalMs: (values.interval ?? spec.probe.intervalSeconds) * 1000,
      timeoutMs: (values.timeout ?? spec.probe.timeoutSeconds) * 1000,
    },
    targets: peerTargets(() => JSON.parse(readFileSync(peers, 'utf8')) as Peers, {
      smtp: spec.ports.smtp, imaps: spec.ports.imaps, pop3s: spec.ports.pop3s, submission: msaMode === 'implicit' ? spec.ports.submissions : spec.ports.submission,
    }),
  };
}

/**
 * `mailfleet probe`: the prober on its own (a Deployment in Kubernetes, the single host's `probe` instance), or
 * with `--once` one cycle for an operator: exit 0 when every path went through, 1 otherwise.
 */
export async function probeCommand(argv: string[]): Promise<number> {
  // The runtime may signal its instances when peers move: the prober reads peers.json at every cycle anyway.
  process.on('SIGHUP', () => undefined);
  const { values } = parse(argv, OPTIONS, USAGE);
  if (values.json && !values.once) throw usageError(USAGE, '--json only with --once');
  const name = values.name ?? process.env.POD_NAME ?? 'probe';
  const explicit = values.msa !== undefined || values.mta !== undefined || values.imap !== undefined || values.pop3 !== undefined;
  const { settings, targets } = explicit ? explicitWiring(values, name) : await localWiring(values, name);
  // --once prints its summary on stdout (`| jq`); its log goes to stderr.
  const log = values.once ? createRootLogger({ destination: 2, level: process.env.MAILFLEET_LOG_LEVEL ?? 'warn' }).child({ component: 'probe', instance: name }) : createLogger('probe').child({ instance: name });
  const metrics = createProbeMetrics({ labels: { role: 'probe', instance: name }, paths: settings.paths });
  const prober = createProber({ settings, targets, metrics, log });
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  if (values.once) {
    const summary = summarize(await prober.cycle(abort.signal));
    process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : summaryText(summary));
    return summary.ok ? 0 : 1;
  }
  const http = await serveProbeEndpoints({
    ...values.listen, metrics: metrics.registry, live: () => prober.live(), ready: () => prober.ready(), log,
  });
  log.info({ listen: `${values.listen.host}:${values.listen.port}`, servername: settings.tls.servername, ca: settings.tls.ca === undefined ? 'system' : 'given', account: settings.account.address }, 'effective settings');
  try {
    await prober.run(abort.signal);
  } finally {
    await http.close();
  }
  return 0;
}
