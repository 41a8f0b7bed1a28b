import { errorMessage, isMailfleetError } from '../errors.ts';

type Run = (argv: string[]) => Promise<number>;

/**
 * Every command, loaded only when it runs: a command's module graph is all that process holds. The agent (PID 1
 * of every pod) must not pay for the Kubernetes client, the renderer or the runtime that other commands need.
 */
const COMMANDS: Record<string, { load: () => Promise<Run>; help: string }> = {
  up: { load: async () => (await import('./up.ts')).upCommand, help: 'up -f SPEC [--state-dir DIR] [--log-stdout]  run the platform on this host (foreground)' },
  down: { load: async () => (await import('./down.ts')).downCommand, help: 'down [--state-dir DIR | -f SPEC]     stop a running platform gracefully' },
  status: { load: async () => (await import('./status.ts')).statusCommand, help: 'status [--json] [--state-dir DIR | -f SPEC]  list every instance, live figures per role' },
  scale: { load: async () => (await import('./scale.ts')).scaleCommand, help: 'scale ROLE N [--state-dir DIR | -f SPEC]  add or remove instances of a role' },
  restart: { load: async () => (await import('./restart.ts')).restartCommand, help: 'restart ROLE [--state-dir DIR | -f SPEC]  rolling restart, one instance at a time' },
  accounts: { load: async () => (await import('./accounts.ts')).accountsCommand, help: 'accounts add|list|remove ...         manage mail accounts in LDAP' },
  validate: { load: async () => (await import('./validate.ts')).validateCommand, help: 'validate -f SPEC                     check a spec and print it with defaults' },
  render: { load: async () => (await import('./render.ts')).renderCommand, help: 'render -f SPEC [-o DIR] | crd | operator | alertmanager-web | ldap-ca | redis-ca | doveadm-ca   Kubernetes YAML for kubectl/GitOps' },
  dashboards: { load: async () => (await import('./dashboards.ts')).dashboardsCommand, help: 'dashboards -o DIR                    the Grafana dashboards as JSON files for import' },
  controller: { load: async () => (await import('./controller.ts')).controllerCommand, help: 'controller --source kube|local ...    run the backend-sync controller' },
  operator: { load: async () => (await import('./operator.ts')).operatorCommand, help: 'operator [--namespace NS|--all-namespaces] ...  reconcile MailPlatform resources' },
  dkim: { load: async () => (await import('./dkim.ts')).dkimCommand, help: 'dkim generate|list|show|rotate|sync DOMAIN | export-secret -f SPEC   DKIM signing keys' },
  dns: { load: async () => (await import('./dns.ts')).dnsCommand, help: 'dns audit NAME [--resolv-conf FILE] [--observe] [--json]  DNS queries one lookup costs' },
  policy: { load: async () => (await import('./policy.ts')).policyCommand, help: 'policy [--rules FILE [--redis HOST:PORT] ...]  run the Postfix policy server (flow control)' },
  exporter: { load: async () => (await import('./exporter.ts')).exporterCommand, help: 'exporter postfix --log FILE|- [--from-start] [--showq PATH] [--listen HOST:PORT]  Postfix metrics on /metrics' },
  probe: { load: async () => (await import('./probe.ts')).probeCommand, help: 'probe [--state-dir DIR | --imap … --pop3 … --msa|--mta …] [--once [--json]]  synthetic mail transactions' },
  'logs-gateway': { load: async () => (await import('./logs-gateway.ts')).logsGatewayCommand, help: 'logs-gateway --upstream HOST:PORT [--listen HOST:PORT]  Loki\'s pushes and reads only (its pod\'s front door)' },
  learn: { load: async () => (await import('./learn.ts')).learnCommand, help: 'learn spam|ham --url URL --password-file FILE  the message on stdin to rspamd\'s controller (Junk moves)' },
  agent: { load: async () => (await import('./agent.ts')).agentCommand, help: 'agent [--pod] --role ROLE --name NAME ...  run one instance (container entrypoint)' },
};

function usage(): string {
  return ['usage: mailfleet COMMAND [options]', '', ...Object.values(COMMANDS).map((c) => `  mailfleet ${c.help}`), ''].join('\n');
}

/** Errors in what the user gave (a spec, a command line, an account's address or password): exit 2. */
const BAD_INPUT: ReadonlySet<string> = new Set(['SPEC_INVALID', 'SPEC_UNREADABLE', 'USAGE', 'ACCOUNT_INVALID', 'DOMAIN_UNKNOWN', 'POLICY_RULES_INVALID', 'ROLE_UNKNOWN']);

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`mailfleet: unknown command ${name}\n${usage()}`);
    return 2;
  }
  try {
    const run = await command.load();
    return await run(rest);
  } catch (err) {
    if (isMailfleetError(err, 'HELP')) {
      process.stdout.write(`${err.message}\n`);
      return 0;
    }
    if (isMailfleetError(err)) {
      process.stderr.write(`mailfleet: ${err.message}\n`);
      for (const line of err.details) process.stderr.write(`  ${line}\n`);
      return BAD_INPUT.has(err.code) ? 2 : 1;
    }
    process.stderr.write(`mailfleet: ${errorMessage(err)}\n`);
    if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

// SIGUSR1 would open Node's inspector on 127.0.0.1:9229 in a process without a handler for it: the policy server,
// the prober, `mailfleet up`, mostly running as root, where whoever connects to it runs code as that user. Handled,
// it does nothing; the agent adds its own handler, which passes it on to its daemon where the daemon has a use for it.
process.on('SIGUSR1', () => undefined);

// A closed pipe (`mailfleet accounts list | head`) ends the command quietly; any other write error is reported.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

/**
 * Resolves once everything written to the stream so far has reached the kernel. Writes to a pipe are
 * queued when the reader is slower than us; exiting before they drain cuts the output short
 * (`mailfleet render | kubectl apply -f -` received only the first 64 KiB).
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);
