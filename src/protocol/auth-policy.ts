/**
 * Dovecot's authentication policy protocol (2.3), pure. Dovecot's auth process POSTs a JSON object to
 * `<auth_policy_server_url>?command=allow` before it looks a login up (and again after a passdb success), and to
 * `?command=report` once the login has ended. The object holds `auth_policy_request_attributes` (by default
 * `login`, `pwhash`, `remote`, `device_id`, `protocol`, `session_id`, every value a JSON string; a key with `/`
 * makes a nested object, `tls` may come too); a report adds `success` and `policy_reject` (booleans). The reply is
 * `{"status":N,"msg":"..."}`: N < 0 refuses the login, 0 lets it go on, N > 0 delays it N seconds. A report's
 * reply is not read.
 *
 * Only the fields the policy server uses are taken; others are ignored whatever their type. A field it uses that
 * has the wrong type makes the whole request malformed: Dovecot always sends strings and booleans, so anything
 * else did not come from it.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

export const AUTH_POLICY_COMMANDS = ['allow', 'report'] as const;
export type AuthPolicyCommand = (typeof AUTH_POLICY_COMMANDS)[number];

/** Largest request body taken: Dovecot's are a few hundred bytes (IMAP ID in `device_id` makes them larger). */
export const AUTH_POLICY_MAX_BODY_BYTES = 16 * 1024;
/** Longest value of a field the server uses; a longer login is keyed by its digest. */
const MAX_FIELD_CHARS = 1024;
const MAX_DEPTH = 8;

export interface AuthPolicyRequest {
  readonly command: AuthPolicyCommand;
  /** The user name the client asked for (`%{requested_username}`); '' when it gave none. */
  readonly login: string;
  /** The client's address as Dovecot saw it (`%{rip}`); '' when unknown. */
  readonly remote: string;
  /** Hex of the truncated hash of nonce, user and password (`%{hashed_password}`); '' when none was tried. */
  readonly pwhash: string;
  /** `imap`, `pop3`, `smtp` ... (`%s`); '' when not sent. */
  readonly protocol: string;
  /** report: whether the login succeeded. */
  readonly success?: boolean;
  /** report: whether the policy server's own refusal failed it. */
  readonly policyReject?: boolean;
}

/** `command` from the query string of the request's target (`/?command=allow`); undefined when absent or unknown. */
export function authPolicyCommand(target: string): AuthPolicyCommand | undefined {
  const question = target.indexOf('?');
  if (question === -1) return undefined;
  const command = new URLSearchParams(target.slice(question + 1)).get('command');
  return (AUTH_POLICY_COMMANDS as readonly string[]).includes(command ?? '') ? (command as AuthPolicyCommand) : undefined;
}

function depth(value: unknown, level: number): number {
  if (typeof value !== 'object' || value === null) return level;
  let deepest = level + 1;
  for (const v of Object.values(value)) {
    deepest = Math.max(deepest, depth(v, level + 1));
    if (deepest > MAX_DEPTH) return deepest;
  }
  return deepest;
}

function malformed(message: string, body: string): { ok: false; error: ReturnType<typeof parseFailure>['error'] } {
  return parseFailure('PROTOCOL_MALFORMED_REQUEST', message, body);
}

/** Parses a request body (bytes as received) for `command`. Never throws. */
export function parseAuthPolicyRequest(command: AuthPolicyCommand, body: Uint8Array): ParseResult<AuthPolicyRequest> {
  if (body.byteLength > AUTH_POLICY_MAX_BODY_BYTES) {
    return parseFailure('PROTOCOL_REQUEST_TOO_LARGE', `body of ${body.byteLength} bytes, at most ${AUTH_POLICY_MAX_BODY_BYTES}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return malformed('body is not UTF-8', '');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return malformed('body is not JSON', text);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed('body is not a JSON object', text);
  if (depth(value, 0) > MAX_DEPTH) return malformed(`body nests deeper than ${MAX_DEPTH}`, text);
  const record = value as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const name of ['login', 'remote', 'pwhash', 'protocol'] as const) {
    const field = record[name];
    if (field === undefined || field === null) {
      fields[name] = '';
      continue;
    }
    if (typeof field !== 'string') return malformed(`${name}: expected a string, got ${typeof field}`, text);
    if (field.length > MAX_FIELD_CHARS) return malformed(`${name}: longer than ${MAX_FIELD_CHARS} characters`, text);
    fields[name] = field;
  }
  const flags: { success?: boolean; policyReject?: boolean } = {};
  for (const [name, key] of [['success', 'success'], ['policy_reject', 'policyReject']] as const) {
    const field = record[name];
    if (field === undefined) continue;
    if (typeof field !== 'boolean') return malformed(`${name}: expected true or false, got ${typeof field}`, text);
    flags[key] = field;
  }
  if (command === 'report' && flags.success === undefined) return malformed('success: a report must say whether the login succeeded', text);
  return parsed({
    command,
    login: fields.login as string,
    remote: fields.remote as string,
    pwhash: fields.pwhash as string,
    protocol: fields.protocol as string,
    ...flags,
  });
}

/** The reply body: `status` -1 refuses, 0 allows, N > 0 delays N seconds; `msg` goes to the client with a refusal. */
export function formatAuthPolicyReply(status: number, msg: string): string {
  return JSON.stringify({ status, msg });
}
