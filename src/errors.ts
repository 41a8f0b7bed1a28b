/**
 * The one catalogue of mailfleet errors. Every error carries a stable `code`;
 * tests assert the code, never the message.
 */
export const ERROR_CODES = {
  SPEC_INVALID: 'a spec file failed validation',
  SPEC_UNREADABLE: 'a spec file could not be read or parsed',
  PREREQUISITE_MISSING: 'a program or system account the platform needs is missing',
  NOT_ROOT: 'mail daemons need root on the single host',
  STATE_LOCKED: 'another mailfleet runtime already owns the state directory',
  RUNTIME_NOT_RUNNING: 'no mailfleet runtime answers on the control socket',
  AGENT_UNREACHABLE: 'no agent answers on its control socket',
  INSTANCE_START_FAILED: 'an instance failed to start',
  INSTANCE_NOT_READY: 'an instance did not become ready in time',
  ROLE_UNKNOWN: 'a role name is not one the platform knows',
  ROLE_NOT_SCALABLE: 'a role cannot be scaled on this runtime',
  ADDRESS_POOL_EXHAUSTED: 'no loopback address is left in the pool',
  ACCOUNT_EXISTS: 'an account with that address already exists',
  ACCOUNT_NOT_FOUND: 'no account has that address',
  ACCOUNT_INVALID: 'an account address or password is not acceptable',
  DOMAIN_UNKNOWN: 'the address belongs to a domain the platform does not serve',
  LDAP_FAILED: 'an LDAP operation failed',
  CONTROL_REQUEST_INVALID: 'a control request was malformed',
  DIRECTOR_FAILED: 'a Dovecot director command failed',
  BACKEND_NOT_ROUTABLE: 'a ready mailbox backend did not reach every director in time',
  KUBE_FAILED: 'a Kubernetes API request failed',
  USAGE: 'a command line was not understood',
  HELP: 'the usage of a command was asked for (--help)',
  DNS_NAME_INVALID: 'a host name to audit is not a valid DNS name',
  DNS_AUDIT_FAILED: 'the DNS resolver audit could not run or observe the resolver',
  SECRET_MISSING: 'a platform secret has no value where one is needed',
  PLACEHOLDER_UNRESOLVED: 'a rendered config names a secret or pod fact the pod does not have',
  TLS_CA_INVALID: 'the local certificate authority in the state directory cannot be used',
  TLS_CERTIFICATE_INVALID: 'a certificate or its key cannot be used (unparsable, mismatched, or not for the named hosts)',
  TLS_ISSUE_FAILED: 'a certificate could not be issued or renewed',
  OUTPUT_REFUSED: 'a file would have been written outside the directory given for it',
  POLICY_RULES_INVALID: 'a policy rules document could not be read or failed validation',
  DKIM_KEY_EXISTS: 'a domain already has a DKIM key where a first one was to be made',
  DKIM_KEY_NOT_FOUND: 'a domain has no DKIM key where one is needed',
  DKIM_STORE_INVALID: 'the DKIM key store in the state directory cannot be read or used',
  DKIM_STORE_BUSY: 'another mailfleet command is changing the DKIM key store',
  DKIM_RECORD_NOT_VISIBLE: 'a new DKIM selector\'s record is not yet visible in DNS, so it is not used for signing',
  CONFIG_UNRENDERABLE: 'a daemon config cannot be written from what it was given (a value its syntax cannot hold, a missing input)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MailfleetError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailfleetError';
    this.code = code;
    this.details = options.details ?? [];
  }
}

export function isMailfleetError(err: unknown, code?: ErrorCode): err is MailfleetError {
  return err instanceof MailfleetError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
