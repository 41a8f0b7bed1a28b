import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { errorMessage, MailfleetError } from '../errors.ts';
import { passwordProblem } from './accounts.ts';
import { filterProblems } from './filter.ts';
import { mtaProblems } from './mta.ts';
import { networkProblems } from './networks.ts';
import { policyProblems } from './policy.ts';
import { fillProbeDefaults, probeProblems } from './probe.ts';
import { resourceProblems } from './resources.ts';
import { secretProblems } from './secrets.ts';
import type { MailPlatform } from './types.ts';
import { platformValidator } from './validator.ts';

/** `/spec/roles/mta/replicas` → `spec.roles.mta.replicas`; array indexes as `[3]`. */
function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? '(root)' : out;
}

function describe(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return `${fieldPath(err.instancePath, String(p.additionalProperty))}: unknown field`;
    case 'required':
      return `${fieldPath(err.instancePath, String(p.missingProperty))}: required field is missing`;
    case 'const':
      return `${fieldPath(err.instancePath)}: expected ${JSON.stringify(p.allowedValue)}`;
    case 'pattern':
      return `${fieldPath(err.instancePath)}: expected a value matching ${String(p.pattern)}`;
    case 'type':
      return `${fieldPath(err.instancePath)}: expected ${String(p.type)}`;
    default:
      return `${fieldPath(err.instancePath)}: ${err.message ?? 'is invalid'}`;
  }
}

function semanticProblems(doc: MailPlatform): string[] {
  const { spec } = doc;
  const problems: string[] = secretProblems(spec);
  const domains = new Set(spec.domains);
  spec.accounts.seed.forEach((a, i) => {
    const domain = a.address.split('@')[1] ?? '';
    if (!domains.has(domain)) problems.push(`spec.accounts.seed[${i}].address: domain ${domain} is not in spec.domains`);
    const weak = passwordProblem(a.password, spec);
    if (weak) problems.push(`spec.accounts.seed[${i}].password: ${weak}`);
  });
  spec.accounts.generate.forEach((g, i) => {
    if (!domains.has(g.domain)) problems.push(`spec.accounts.generate[${i}].domain: ${g.domain} is not in spec.domains`);
    const weak = passwordProblem(g.password, spec);
    if (weak) problems.push(`spec.accounts.generate[${i}].password: ${weak}`);
  });
  const { roles } = spec;
  if ((roles.mta.replicas > 0 || roles.msa.replicas > 0) && roles.proxy.replicas === 0) {
    problems.push('spec.roles.proxy.replicas: expected at least 1 when mta or msa run (they deliver and authenticate through the proxy)');
  }
  if (roles.proxy.replicas > 0 && roles.mailbox.replicas === 0) {
    problems.push('spec.roles.mailbox.replicas: expected at least 1 when proxy runs');
  }
  if (roles.proxy.replicas > 0 && roles.ldap.replicas === 0) {
    problems.push('spec.roles.ldap.replicas: expected 1 (accounts live in LDAP)');
  }
  problems.push(
    ...tlsProblems(spec), ...probeProblems(spec), ...policyProblems(spec), ...filterProblems(spec), ...networkProblems(spec), ...resourceProblems(spec), ...mtaProblems(spec.mta),
  );
  return problems;
}

/** Certificates: names unique, each host on one certificate only (SNI must pick one), what the issuer needs given. */
function tlsProblems(spec: MailPlatform['spec']): string[] {
  const problems: string[] = [];
  const { tls } = spec;
  const names = new Set<string>();
  const hosts = new Map<string, number>();
  tls.certificates.forEach((c, i) => {
    const at = `spec.tls.certificates[${i}]`;
    if (names.has(c.name)) problems.push(`${at}.name: ${c.name} is used by another certificate`);
    names.add(c.name);
    for (const h of c.hosts) {
      const other = hosts.get(h);
      if (other !== undefined) problems.push(`${at}.hosts: ${h} is also on spec.tls.certificates[${other}]; a client's SNI name must pick one certificate`);
      else hosts.set(h, i);
    }
    if (tls.issuer === 'files') {
      if (c.certFile === undefined) problems.push(`${at}.certFile: required field is missing (spec.tls.issuer is files)`);
      if (c.keyFile === undefined) problems.push(`${at}.keyFile: required field is missing (spec.tls.issuer is files)`);
    } else if (c.certFile !== undefined || c.keyFile !== undefined) {
      problems.push(`${at}.${c.certFile !== undefined ? 'certFile' : 'keyFile'}: only taken with spec.tls.issuer: files`);
    }
  });
  if (tls.issuer === 'acme' && tls.acme === undefined) problems.push('spec.tls.acme: required field is missing (spec.tls.issuer is acme)');
  return problems;
}

/** The default certificate, when the spec names none: the SMTP banner's host name. */
function fillTlsDefaults(platform: MailPlatform): void {
  const tls = platform.spec.tls as { certificates?: MailPlatform['spec']['tls']['certificates'] };
  tls.certificates ??= [{ name: 'default', hosts: [platform.spec.hostname] }];
}

/** Validates a parsed document, fills defaults and freezes it. Throws SPEC_INVALID listing every problem. */
export function validateSpec(input: unknown, source = 'spec'): MailPlatform {
  const platform = structuredClone(input);
  const validateSchema = platformValidator();
  if (!validateSchema(platform)) {
    const problems = [...new Set((validateSchema.errors ?? []).map(describe))];
    throw new MailfleetError('SPEC_INVALID', `${source}: ${problems.length} problem(s)`, { details: problems });
  }
  fillTlsDefaults(platform);
  fillProbeDefaults(platform.spec);
  const problems = semanticProblems(platform);
  if (problems.length > 0) {
    throw new MailfleetError('SPEC_INVALID', `${source}: ${problems.length} problem(s)`, { details: problems });
  }
  return deepFreeze(platform);
}

export function parseSpec(text: string, source = 'spec'): MailPlatform {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new MailfleetError('SPEC_UNREADABLE', `${source}: not valid YAML: ${yamlProblem(err, text)}`, { cause: err });
  }
  return validateSpec(doc ?? {}, source);
}

/**
 * What the YAML parser found and where, in one line: `Map keys must be unique at line 2, column 1`; a problem
 * noticed past the last line (an unclosed `[`) is said to be at the end of the file.
 */
function yamlProblem(err: unknown, text: string): string {
  if (!(err instanceof YAMLParseError)) return errorMessage(err);
  const what = (err.message.split('\n')[0] ?? '').replace(/:$/, '');
  const line = err.linePos?.[0].line;
  const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
  return line !== undefined && line > lines ? what.replace(/ at line \d+, column \d+$/, ' at the end of the file') : what;
}

/** Why a spec file could not be read, in a few words. */
const UNREADABLE: Readonly<Record<string, string>> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'a directory, not a file' };

export function loadSpecFile(path: string): MailPlatform {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new MailfleetError('SPEC_UNREADABLE', `${path}: cannot read spec file: ${UNREADABLE[code] ?? errorMessage(err)}`, { cause: err });
  }
  return parseSpec(text, path);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
