import { MailfleetError } from '../errors.ts';
import { controlRequest, controlSocket } from '../runtime/local/index.ts';
import { INSTANCE_ROLES, roleRefusal } from '../spec/index.ts';
import { parse, usageError } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet restart ROLE [--state-dir DIR | -f SPEC]';

/** Rolling restart of a role: each instance drains, stops and comes back before the next one goes. */
export async function restartCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'state-dir': { type: 'string', short: 's' }, file: { type: 'string', short: 'f' } }, USAGE, 1);
  const [role] = positionals;
  if (!role) throw usageError(USAGE, 'expected a role');
  const unknown = roleRefusal(role, INSTANCE_ROLES);
  if (unknown !== undefined) throw usageError(USAGE, unknown);
  process.stderr.write(`mailfleet: rolling restart of ${role}…\n`);
  const { status, body } = await controlRequest(controlSocket(resolveStateDir(values)), 'POST', '/v1/restart', { role });
  if (status !== 200) {
    const err = body as { code?: string; message?: string };
    throw new MailfleetError(err.code === 'ROLE_UNKNOWN' ? 'ROLE_UNKNOWN' : 'CONTROL_REQUEST_INVALID', err.message ?? `restart failed (${status})`);
  }
  const { restarted } = body as { restarted: { name: string; address: string; durationMs: number }[] };
  if (restarted.length === 0) process.stderr.write(`mailfleet: no instance of ${role} runs; nothing restarted\n`);
  for (const r of restarted) {
    process.stdout.write(`${r.name}\t${r.address}\t${(r.durationMs / 1000).toFixed(1)} s\n`);
  }
  return 0;
}
