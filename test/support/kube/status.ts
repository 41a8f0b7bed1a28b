/**
 * The API server's error catalogue: every failure leaves as a `kind: Status` object with a fixed
 * `reason` per HTTP code, shaped like the real kube-apiserver's (k8s.io/apimachinery errors).
 */
import type { JsonObject } from './json-value.ts';

export const REASON_BY_CODE: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** What a request acted on: a resource (plural) in a group, used in messages and details. */
export interface Target {
  group: string;
  resource: string;
}

/** An error that carries its own wire reply. */
export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): JsonObject {
    return statusObject('Failure', this.code, this.reason, this.message, this.details);
  }
}

export function statusObject(status: 'Success' | 'Failure', code: number, reason: string, message: string, details?: StatusDetails): JsonObject {
  const out: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status };
  if (message) out.message = message;
  if (reason) out.reason = reason;
  if (details) out.details = pruneDetails(details);
  out.code = code;
  return out;
}

function pruneDetails(d: StatusDetails): JsonObject {
  const out: JsonObject = {};
  if (d.name !== undefined) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind !== undefined) out.kind = d.kind;
  if (d.uid !== undefined) out.uid = d.uid;
  if (d.causes) out.causes = d.causes.map((c) => ({ ...c }));
  if (d.retryAfterSeconds !== undefined) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** `configmaps` or `deployments.apps`, as the real server names a resource in messages. */
export function qualified(t: Target): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}

export function notFound(t: Target, name: string): StatusError {
  return new StatusError(404, 'NotFound', `${qualified(t)} "${name}" not found`, { name, group: t.group, kind: t.resource });
}

export function routeNotFound(): StatusError {
  return new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function alreadyExists(t: Target, name: string): StatusError {
  return new StatusError(409, 'AlreadyExists', `${qualified(t)} "${name}" already exists`, { name, group: t.group, kind: t.resource });
}

export function conflict(t: Target, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): StatusError {
  return new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(t)} "${name}": ${why}`, { name, group: t.group, kind: t.resource });
}

/** A server-side apply conflict: one cause per contested field, as `Apply failed with N conflict(s)`. */
export function applyConflict(t: Target, name: string, conflicts: readonly { manager: string; field: string }[]): StatusError {
  const n = conflicts.length;
  const lines = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`);
  const message = `Apply failed with ${n} conflict${n === 1 ? '' : 's'}: ${lines.join('\n')}`;
  const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.field }));
  return new StatusError(409, 'Conflict', message, { name, group: t.group, kind: t.resource, causes });
}

/** 422: `Kind "name" is invalid: field: message`; details.kind is the Kind, as in the real server. */
export function invalid(kind: string, group: string, name: string, causes: readonly StatusCause[]): StatusError {
  const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${summary}`, {
    name,
    group,
    kind,
    causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, ...(c.field ? { field: c.field } : {}) })),
  });
}

export function badRequest(message: string): StatusError {
  return new StatusError(400, 'BadRequest', message);
}

export function methodNotAllowed(): StatusError {
  return new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/** 410 with reason Expired: what a watch or a continue token that is older than the history receives. */
export function expired(message: string): StatusError {
  return new StatusError(410, 'Expired', message);
}

/** A failure by code alone, for fault injection. */
export function statusForCode(code: number, message = 'injected failure'): StatusError {
  const reason = REASON_BY_CODE[code] ?? 'Unknown';
  const details: StatusDetails | undefined = code === 429 || code === 503 ? { retryAfterSeconds: 1 } : undefined;
  return new StatusError(code, reason, message, details);
}
