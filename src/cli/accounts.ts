import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAccountDirectory } from '../accounts/index.ts';
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
  return { spec, url: `ldap://${ldap.host}:${spec.ports.ldap}` };
}

export async function accountsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    password: { type: 'string', short: 'p' },
    quota: { type: 'quota', default: '1G' },
    json: { type: 'boolean' },
    'state-dir': { type: 'string', short: 's' },
    file: { type: 'string', short: 'f' },
  }, USAGE);
  const [action, address] = positionals;
  const { spec, url } = platformLdap(resolveStateDir(values));
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
