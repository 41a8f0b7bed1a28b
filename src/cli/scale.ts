import { ERROR_CODES, MailfleetError, type ErrorCode } from '../errors.ts';
import { controlRequest, controlSocket } from '../runtime/local/index.ts';
import { INSTANCE_ROLES, roleRefusal, ROLES } from '../spec/index.ts';
import { check, parse, usageError } from './args.ts';
import { printStatus } from './status.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet scale ROLE N [--state-dir DIR | -f SPEC]';

export async function scaleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'state-dir': { type: 'string', short: 's' }, file: { type: 'string', short: 'f' } }, USAGE, 2);
  const [role, count] = positionals;
  if (role === undefined || count === undefined) throw usageError(USAGE, 'expected a role and a replica count');
  // A typo is refused here, naming the roles that scale; a role the runtime does not scale (ldap, probe) is refused
  // by it, saying why.
  const unknown = roleRefusal(role, INSTANCE_ROLES) && roleRefusal(role, ROLES);
  if (unknown !== undefined) throw usageError(USAGE, unknown);
  const replicas = check('N', { type: 'integer', min: 0 }, count, USAGE);
  const socket = controlSocket(resolveStateDir(values));
  process.stderr.write(`mailfleet: scaling ${role} to ${replicas}…\n`);
  const { status, body } = await controlRequest(socket, 'POST', '/v1/scale', { role, replicas });
  if (status !== 200) {
    const err = body as { code?: string; message?: string; details?: string[] };
    const code = err.code !== undefined && err.code in ERROR_CODES ? (err.code as ErrorCode) : 'CONTROL_REQUEST_INVALID';
    throw new MailfleetError(code, err.message ?? `scale failed (${status})`, { details: err.details ?? [] });
  }
  await printStatus(socket, false);
  return 0;
}
