import { errorMessage, isMailfleetError } from '../errors.ts';
import { accountsCommand } from './accounts.ts';
import { agentCommand } from './agent.ts';
import { controllerCommand } from './controller.ts';
import { dnsCommand } from './dns.ts';
import { downCommand } from './down.ts';
import { renderCommand } from './render.ts';
import { restartCommand } from './restart.ts';
import { scaleCommand } from './scale.ts';
import { statusCommand } from './status.ts';
import { upCommand } from './up.ts';
import { validateCommand } from './validate.ts';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  up: { run: upCommand, help: 'up -f SPEC [--state-dir DIR]        run the platform on this host (foreground)' },
  down: { run: downCommand, help: 'down [--state-dir DIR]               stop a running platform gracefully' },
  status: { run: statusCommand, help: 'status [--json] [--state-dir DIR]    list every instance' },
  scale: { run: scaleCommand, help: 'scale ROLE N [--state-dir DIR]       add or remove instances of a role' },
  restart: { run: restartCommand, help: 'restart ROLE [--state-dir DIR]       rolling restart, one instance at a time' },
  accounts: { run: accountsCommand, help: 'accounts add|list|remove ...         manage mail accounts in LDAP' },
  validate: { run: validateCommand, help: 'validate -f SPEC                     check a spec and print it with defaults' },
  render: { run: renderCommand, help: 'render -f SPEC [-o DIR] | crd | operator   Kubernetes YAML for kubectl/GitOps' },
  controller: { run: controllerCommand, help: 'controller --source kube|local ...    run the backend-sync controller' },
  operator: { run: async (argv) => (await import('./operator.ts')).operatorCommand(argv), help: 'operator [--namespace NS|--all-namespaces] ...  reconcile MailPlatform resources' },
  dns: { run: dnsCommand, help: 'dns audit NAME [--resolv-conf FILE] [--observe] [--json]  DNS queries one lookup costs' },
  agent: { run: agentCommand, help: 'agent [--pod] --role ROLE --name NAME ...  run one instance (container entrypoint)' },
};

function usage(): string {
  return ['usage: mailfleet COMMAND [options]', '', ...Object.values(COMMANDS).map((c) => `  mailfleet ${c.help}`), ''].join('\n');
}

/** Errors in what the user gave (a spec, a command line, an account's address or password): exit 2. */
const BAD_INPUT: ReadonlySet<string> = new Set(['SPEC_INVALID', 'SPEC_UNREADABLE', 'USAGE', 'ACCOUNT_INVALID', 'DOMAIN_UNKNOWN']);

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
    return await command.run(rest);
  } catch (err) {
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
