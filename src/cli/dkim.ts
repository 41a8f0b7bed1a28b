import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  createTxtLookup, dkimPaths, dkimRecord, dkimSigningFiles, DKIM_ALGORITHMS, generateFirstKey, keyringAt, rotateDomain, RSA_KEY_BITS, storeKeyReader, syncKeyring,
  type DkimPaths, type Keyring, type RotateOutcome, type SelectorEntry, type SyncEvent,
} from '../dkim/index.ts';
import { MailfleetError } from '../errors.ts';
import { dkimSecret, toYaml } from '../runtime/kube/index.ts';
import { loadSpecFile, validateSpec, type MailPlatform } from '../spec/index.ts';
import { DOMAIN_PATTERN } from '../spec/patterns.ts';
import { notASubcommand, parse, usageError, type Options } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = `mailfleet dkim generate DOMAIN [--algorithm rsa|ed25519] [--bits 2048|3072|4096] [--force]
       mailfleet dkim list [DOMAIN] [--json]
       mailfleet dkim show DOMAIN [--json]
       mailfleet dkim rotate DOMAIN [--algorithm rsa|ed25519] [--bits 2048|3072|4096] [--dns IP:PORT] [--retire-after DAYS] [--force]
       mailfleet dkim sync [--dns IP:PORT] [--retire-after DAYS]
       mailfleet dkim export-secret -f SPEC
  each with [--state-dir DIR | -f SPEC]`;

const DAY_MS = 86_400_000;
const DOMAIN = new RegExp(DOMAIN_PATTERN);

const COMMON = { 'state-dir': { type: 'string', short: 's' }, file: { type: 'string', short: 'f' } } as const satisfies Options;
const KEY = { algorithm: { type: 'choice', values: DKIM_ALGORITHMS }, bits: { type: 'choice', values: RSA_KEY_BITS.map(String) } } as const satisfies Options;
const DNS = {
  /** The nameserver the visibility check asks; default the system's resolvers. */
  dns: { type: 'host-port' },
  /** How long the selector a promotion replaces stays retiring (its record published); one already retiring keeps its date. */
  'retire-after': { type: 'integer', min: 0, max: 365, unit: 'days', default: 7 },
} as const satisfies Options;

/** The platform's spec: `-f SPEC`, else the running platform's copy in the state directory, else none. */
function platformOf(values: { file?: string }, stateDir: string): { doc: MailPlatform; where: string } | undefined {
  if (values.file) return { doc: loadSpecFile(values.file), where: values.file };
  const kept = join(stateDir, 'spec.json');
  if (!existsSync(kept)) return undefined;
  return { doc: validateSpec(JSON.parse(readFileSync(kept, 'utf8')), kept), where: kept };
}

/** DOMAIN in lower case; one the platform serves when a spec is known (DOMAIN_UNKNOWN otherwise). */
function domainArg(raw: string | undefined, platform: { doc: MailPlatform; where: string } | undefined): string {
  if (raw === undefined) throw usageError(USAGE, 'missing DOMAIN');
  const domain = raw.toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw usageError(USAGE, `DOMAIN: expected a domain name, got ${JSON.stringify(raw)}`);
  const served = platform?.doc.spec.domains;
  if (served && !served.includes(domain)) {
    throw new MailfleetError('DOMAIN_UNKNOWN', `${domain} is not a domain of the platform: spec.domains in ${platform?.where} lists ${served.join(', ')}`);
  }
  return domain;
}

function lookupOf(values: { dns?: { host: string; port: number } }) {
  const server = values.dns;
  if (server && (isIP(server.host) === 0 || server.port === 0)) throw usageError(USAGE, `--dns: expected an IP address and a port from 1 to 65535, got ${server.host}:${server.port}`);
  return createTxtLookup(server ? { server } : {});
}

function keyOptions(values: { algorithm?: string; bits?: string }) {
  if (values.bits !== undefined && values.algorithm === 'ed25519') throw usageError(USAGE, '--bits is for rsa keys; an ed25519 key has no size to choose');
  return {
    ...(values.algorithm ? { algorithm: values.algorithm as (typeof DKIM_ALGORITHMS)[number] } : {}),
    ...(values.bits ? { bits: Number(values.bits) } : {}),
  };
}

const day = (iso: string | undefined): string => (iso === undefined ? '-' : `${iso.slice(0, 16).replace('T', ' ')}Z`);
const keyKind = (e: SelectorEntry): string => (e.bits === undefined ? e.algorithm : `${e.algorithm}-${e.bits}`);

function age(iso: string, now: Date): string {
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000));
  return s >= 86_400 ? `${Math.floor(s / 86_400)}d` : s >= 3600 ? `${Math.floor(s / 3600)}h` : s >= 60 ? `${Math.floor(s / 60)}m` : `${s}s`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

function note(domain: string, e: SelectorEntry): string {
  switch (e.state) {
    case 'pending': return `publish its record, then 'mailfleet dkim rotate ${domain}'`;
    case 'active': return 'signs; keep its record published';
    case 'retiring': return `keep its record published until ${day(e.retireAt)}`;
    case 'retired': return 'its record may be removed';
  }
}

function listCommand(paths: DkimPaths, ring: Keyring, filter: string | undefined, json: boolean, now: Date): number {
  const domains = Object.keys(ring.domains).filter((d) => filter === undefined || d === filter);
  if (filter !== undefined && domains.length === 0) throw new MailfleetError('DKIM_KEY_NOT_FOUND', `${filter} has no DKIM keys in ${paths.root}`);
  const entries = domains.flatMap((domain) => (ring.domains[domain]?.selectors ?? []).map((e) => ({ domain, ...e, ageSeconds: Math.max(0, Math.floor((now.getTime() - Date.parse(e.created)) / 1000)) })));
  if (json) {
    process.stdout.write(`${JSON.stringify(entries.map(({ publicKey: _p, ...rest }) => rest), null, 2)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    process.stdout.write(`no DKIM keys in ${paths.root}; make one with 'mailfleet dkim generate DOMAIN'\n`);
    return 0;
  }
  const rows = [['DOMAIN', 'SELECTOR', 'STATE', 'KEY', 'CREATED', 'AGE', 'NOTE']];
  for (const e of entries) rows.push([e.domain, e.selector, e.state, keyKind(e), day(e.created), age(e.created, now), note(e.domain, e)]);
  process.stdout.write(table(rows));
  return 0;
}

/** The records to publish for `domain`: active, pending and retiring selectors, as zone-file lines. */
function showCommand(paths: DkimPaths, ring: Keyring, domain: string, json: boolean): number {
  const published = (ring.domains[domain]?.selectors ?? []).filter((e) => e.state !== 'retired');
  if (published.length === 0) throw new MailfleetError('DKIM_KEY_NOT_FOUND', `${domain} has no DKIM keys in ${paths.root}; make one with 'mailfleet dkim generate ${domain}'`);
  const records = published.map((e) => ({ selector: e.selector, state: e.state, ...(e.retireAt ? { retireAt: e.retireAt } : {}), ...dkimRecord(e.selector, domain, e) }));
  if (json) {
    process.stdout.write(`${JSON.stringify({ domain, records }, null, 2)}\n`);
    return 0;
  }
  for (const [i, r] of records.entries()) {
    const e = published[i] as SelectorEntry;
    process.stdout.write(`; ${domain} selector ${r.selector} (${r.state}): ${note(domain, e)}\n${r.zone}\n`);
  }
  return 0;
}

function rotateReport(domain: string, outcome: RotateOutcome): number {
  const { entry, record } = outcome;
  switch (outcome.kind) {
    case 'pending':
      process.stdout.write(`; ${domain}: new selector ${entry.selector} (${keyKind(entry)}) is pending: publish this record, then run 'mailfleet dkim rotate ${domain}' again;\n; it signs once DNS answers with this record (or with --force)\n${record.zone}\n`);
      return 0;
    case 'promoted': {
      const { replaced } = outcome;
      const was = replaced ? `; ${replaced.selector} is retiring: keep its record published until ${day(replaced.retireAt)}` : '';
      process.stdout.write(`; ${domain} signs with selector ${entry.selector} from now${outcome.forced ? ' (forced, its record not checked)' : ''}${was}\n${record.zone}\n`);
      return 0;
    }
    case 'waiting':
      throw new MailfleetError('DKIM_RECORD_NOT_VISIBLE', `${domain} selector ${entry.selector} stays pending: ${outcome.reason}`, {
        details: [`publish: ${record.zone}`, `then run 'mailfleet dkim rotate ${domain}' again, or add --force to sign with it now`],
      });
  }
}

function syncReport(events: SyncEvent[]): number {
  for (const e of events) {
    if (e.kind === 'retired') process.stdout.write(`${e.domain}: ${e.entry.selector} retired; its record may be removed\n`);
    if (e.kind === 'promoted') process.stdout.write(`${e.domain}: signs with ${e.entry.selector} from now${e.replaced ? `; ${e.replaced.selector} is retiring until ${day(e.replaced.retireAt)}` : ''}\n`);
    if (e.kind === 'waiting') process.stdout.write(`${e.domain}: ${e.entry.selector} stays pending: ${e.reason}\n`);
  }
  return 0;
}

/** The `<platform>-dkim` Secret from the store: the spec's domains only. */
function exportSecret(paths: DkimPaths, ring: Keyring, platform: { doc: MailPlatform; where: string }): number {
  const served = new Set(platform.doc.spec.domains);
  const domains = Object.fromEntries(Object.entries(ring.domains).filter(([d]) => served.has(d)));
  for (const d of Object.keys(ring.domains).filter((x) => !served.has(x))) process.stderr.write(`mailfleet: ${d} is not in spec.domains of ${platform.where}: its keys are left out\n`);
  for (const d of served) if (!ring.domains[d]?.active) process.stderr.write(`mailfleet: ${d} has no active DKIM key: its mail goes out unsigned ('mailfleet dkim generate ${d}')\n`);
  const signing: Keyring = { version: 1, domains };
  if (!Object.values(domains).some((k) => k.active)) throw new MailfleetError('DKIM_KEY_NOT_FOUND', `no domain of ${platform.where} has a DKIM key in ${paths.root}`);
  const secret = dkimSecret(platform.doc, dkimSigningFiles(signing, storeKeyReader(paths, signing)));
  process.stdout.write(toYaml([{
    comment: `DKIM signing keys of ${platform.doc.metadata.name} (private keys: apply it, never commit it):\n  mailfleet dkim export-secret -f SPEC | kubectl apply -f -\nExport and apply it again after every 'mailfleet dkim generate|rotate|sync' that changed a key.`,
    object: secret,
  }]));
  return 0;
}

/** `mailfleet dkim …`: DKIM keys in the state directory's store. */
export async function dkimCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const now = new Date();
  switch (sub) {
    case 'generate': {
      const { values, positionals } = parse(rest, { ...COMMON, ...KEY, force: { type: 'boolean' } }, USAGE, 1);
      const stateDir = resolveStateDir(values);
      const domain = domainArg(positionals[0], platformOf(values, stateDir));
      const { entry, record, retired } = await generateFirstKey(dkimPaths(stateDir), domain, { now, key: keyOptions(values), force: values.force === true });
      const gone = retired.length > 0 ? `; retired at once (remove their records): ${retired.map((e) => e.selector).join(', ')}` : '';
      process.stdout.write(`; ${domain} signs with selector ${entry.selector} (${keyKind(entry)}) from now; publish this record${gone}\n${record.zone}\n`);
      return 0;
    }
    case 'list':
    case 'show': {
      const { values, positionals } = parse(rest, { ...COMMON, json: { type: 'boolean' } }, USAGE, 1);
      const stateDir = resolveStateDir(values);
      const paths = dkimPaths(stateDir);
      const domain = positionals[0] === undefined && sub === 'list' ? undefined : domainArg(positionals[0], undefined);
      const ring = keyringAt(paths, now);
      return sub === 'list' ? listCommand(paths, ring, domain, values.json === true, now) : showCommand(paths, ring, domain ?? '', values.json === true);
    }
    case 'rotate': {
      const { values, positionals } = parse(rest, { ...COMMON, ...KEY, ...DNS, force: { type: 'boolean' } }, USAGE, 1);
      const stateDir = resolveStateDir(values);
      const domain = domainArg(positionals[0], platformOf(values, stateDir));
      const outcome = await rotateDomain(dkimPaths(stateDir), domain, {
        now, lookup: lookupOf(values), key: keyOptions(values), force: values.force === true, retireAfterMs: values['retire-after'] * DAY_MS,
      });
      return rotateReport(domain, outcome);
    }
    case 'sync': {
      const { values } = parse(rest, { ...COMMON, ...DNS }, USAGE);
      const stateDir = resolveStateDir(values);
      return syncReport(await syncKeyring(dkimPaths(stateDir), { now, lookup: lookupOf(values), retireAfterMs: values['retire-after'] * DAY_MS }));
    }
    case 'export-secret': {
      const { values } = parse(rest, COMMON, USAGE);
      if (!values.file) throw usageError(USAGE, 'export-secret needs -f SPEC: the Secret is named and placed after the platform');
      const stateDir = resolveStateDir(values);
      const platform = platformOf(values, stateDir);
      if (!platform) throw usageError(USAGE, 'missing -f SPEC');
      const paths = dkimPaths(stateDir);
      return exportSecret(paths, keyringAt(paths, now), platform);
    }
    default:
      throw notASubcommand(sub, USAGE);
  }
}
