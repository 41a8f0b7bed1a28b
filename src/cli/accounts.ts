import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openAccountDirectory } from '../accounts/index.ts';
import { instanceContext } from '../agent/index.ts';
import type { Peers } from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { validateSpec } from '../spec/index.ts';
import { parse, usageError } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet accounts add ADDRESS --password PW [--quota 1G] | list [--json] | remove ADDRESS   [--state-dir DIR | -f SPEC]';

/** The running platform's spec and LDAP URL, from its state directory. */
function platformLdap(stateDir: string) {
  let specText: string;
  let peers: Peers;
  try {
    specText = readFileSync(join(stateDir, 'spec.json'), 'utf8');
    peers = JSON.parse(readFileSync(join(stateDir, 'peers.json'), 'utf8')) as Peers;
  } catch (err) {
    throw new MailfleetError('RUNTIME_NOT_RUNNING', `no platform state in ${stateDir}; start one with 'mailfleet up'`, { cause: err });
  }
  const spec = validateSpec(JSON.parse(specText), join(stateDir, 'spec.json')).spec;
  const ldap = peers.ldap[0];
  if (!ldap) throw new MailfleetError('RUNTIME_NOT_RUNNING', 'the ldap instance is not running');
  return { spec, peers, url: `ldap://${ldap.host}:${spec.ports.ldap}` };
}

const run = promisify(execFile);
/** doveadm against a hung instance must not hold the command. */
const DOVEADM_TIMEOUT_MS = 10_000;

/**
 * A removed account's password must not keep working from a cache, nor its sessions stay open: each proxy and
 * mailbox forgets what its auth cache holds of it (60 s otherwise, auth_cache_ttl), and each proxy ends its
 * sessions. Returns what could not be done, one line each.
 */
async function forgetAccount(stateDir: string, peers: Peers, address: string): Promise<string[]> {
  const problems: string[] = [];
  const doveadm = async (name: string, conf: string, args: string[]): Promise<void> => {
    try {
      await run('doveadm', ['-c', conf, ...args], { timeout: DOVEADM_TIMEOUT_MS, killSignal: 'SIGKILL' });
    } catch (err) {
      const detail = String((err as { stderr?: string }).stderr ?? '').trim() || (err as Error).message;
      problems.push(`${name}: doveadm ${args.join(' ')}: ${detail}`);
    }
  };
  const work: Promise<void>[] = [];
  for (const role of ['proxy', 'mailbox'] as const) {
    for (const p of peers[role]) {
      const conf = join(instanceContext(stateDir, role, p.name, p.host).configDir, 'dovecot.conf');
      work.push(doveadm(p.name, conf, ['auth', 'cache', 'flush', address]));
      if (role === 'proxy') work.push(doveadm(p.name, conf, ['proxy', 'kick', address]));
    }
  }
  await Promise.all(work);
  return problems;
}

export async function accountsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    password: { type: 'string', short: 'p' },
    quota: { type: 'quota', default: '1G' },
    json: { type: 'boolean' },
    'state-dir': { type: 'string', short: 's' },
    file: { type: 'string', short: 'f' },
  }, USAGE, 2);
  const [action, address] = positionals;
  const stateDir = resolveStateDir(values);
  const { spec, peers, url } = platformLdap(stateDir);
  const directory = await openAccountDirectory(spec, url);
  try {
    switch (action) {
      case 'add':
        if (!address || !values.password) throw usageError(USAGE, 'accounts add needs ADDRESS and --password');
        await directory.add({ address, password: values.password, quota: values.quota ?? '1G' });
        process.stdout.write(`added ${address.toLowerCase()}\n`);
        return 0;
      case 'remove':
        if (!address) throw usageError(USAGE, 'accounts remove needs ADDRESS');
        await directory.remove(address);
        process.stdout.write(`removed ${address.toLowerCase()} (its stored mail is kept)\n`);
        for (const problem of await forgetAccount(stateDir, peers, address.toLowerCase())) {
          process.stderr.write(`mailfleet: ${problem} (a cached login may work for up to 60 s more)\n`);
        }
        return 0;
      case 'list': {
        const entries = await directory.list();
        if (values.json) process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
        else for (const e of entries) process.stdout.write(`${e.address}\t${e.quotaBytes === 0 ? 'unlimited' : `${Math.round(e.quotaBytes / 1024 ** 2)} MiB`}\n`);
        return 0;
      }
      default:
        throw usageError(USAGE, 'expected add, list or remove');
    }
  } finally {
    await directory.close();
  }
}
