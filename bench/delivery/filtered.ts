/**
 * The delivery bench's modes: unfiltered (bare Postfix → Dovecot against the platform without `as`/`av`), and
 * filtered (`--filtered`): bare Postfix → rspamd milter (+ clamd) → Dovecot, the filter configured by hand
 * (filter.ts), against the platform with one `as` and one `av`. Each path of the filtered mode has its own resolver
 * on loopback answering NXDOMAIN (the same settings), frozen and counted with its path.
 *
 * Checks of the filtered mode, outside the timed windows: after its warm-up, a message carrying the ClamAV test
 * file is sent to each path and must be refused naming the bench's signature (clamd is asked, through rspamd); after
 * the rounds, every delivered message must carry rspamd's `X-Spam-Status` header (rspamd scanned it), and the
 * distinct values are printed per path (the same scores on both paths say the filters do the same work).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { openSmtpSession } from '../../src/protocol/index.ts';
import { BARE_ADDRESSES, startBare, type BareAddresses } from './bare.ts';
import {
  CLAMD_PORT, DNS_PORT, FILTER_PREREQUISITES, MILTER_PORT, REDIS_PORT, signatureDirectory, startBareFilter, startResolver, TEST_VIRUS_FILE, TEST_VIRUS_NAME,
  type BareFilterAddresses,
} from './filter.ts';
import { startFull } from './full.ts';
import { UNSCANNED } from './report.ts';
import { benchSpec, BENCH_DOMAIN, type BenchSpec } from './spec.ts';
import type { Defer, DeliveryTarget } from './target.ts';

/** The filtered mode's bare daemons and both resolvers: the /16 after the full platform's (127.130.0.0/16). */
const FILTERED_BARE: BareAddresses = { postfix: '127.131.0.1', dovecot: '127.131.0.2' };
const BARE_FILTER: BareFilterAddresses = { rspamd: '127.131.0.3', clamd: '127.131.0.4', redis: '127.131.0.5', dns: '127.131.0.53' };
const FULL_DNS = '127.131.0.54';
/** The header rspamd's milter_headers module adds to every message it scanned (both paths). */
const SCANNED_HEADER = /^X-Spam-Status: (.*)$/im;
const HEAD_BYTES = 8192;

export type Start = (root: string, bench: BenchSpec, defer: Defer, signal: AbortSignal) => Promise<DeliveryTarget>;

export interface Mode {
  filtered: boolean;
  bench: BenchSpec;
  /** `host:port`s that must not answer before the run (a daemon left by a killed run would be measured). */
  mustBeFree: [string, number][];
  paths: [name: 'bare' | 'full', start: Start][];
  /** After a path's warm-up: throws unless its filter refuses a virus. */
  afterWarmUp?: (target: DeliveryTarget, signal: AbortSignal) => Promise<void>;
}

/** Missing programs or files the filtered mode needs (packages rspamd, clamav-daemon, clamav-testfiles, redis-server, unbound). */
export function filteredPrerequisites(): string[] {
  return FILTER_PREREQUISITES.filter((p) => !existsSync(p));
}

export function unfilteredMode(recipients: number, quotaCheck = true): Mode {
  const bench = benchSpec(recipients, undefined, quotaCheck);
  const { smtp, lmtp } = bench.platform.spec.ports;
  return {
    filtered: false,
    bench,
    mustBeFree: [[BARE_ADDRESSES.postfix, smtp], [BARE_ADDRESSES.dovecot, lmtp]],
    paths: [
      ['bare', (root, b, defer, signal) => startBare(root, b, defer, signal, { addresses: BARE_ADDRESSES })],
      ['full', startFull],
    ],
  };
}

/** `target` with the bench's own daemons for it added to its CPU table and to what is frozen with it. */
function withHelpers(target: DeliveryTarget, helpers: Map<number, string>): DeliveryTarget {
  return {
    ...target,
    cpuRoots: () => new Map([...target.cpuRoots(), ...helpers]),
    processRoots: () => [...target.processRoots(), ...helpers.keys()],
  };
}

/** The filtered mode under `root`: the signature database is built now, since the platform's spec names it. */
export function filteredMode(root: string, recipients: number, quotaCheck = true): Mode {
  const signatures = signatureDirectory(root);
  const bench = benchSpec(recipients, { signatures, nameserver: `${FULL_DNS}:${DNS_PORT}` }, quotaCheck);
  const { smtp, lmtp } = bench.platform.spec.ports;
  const { processes } = bench.platform.spec.filter;
  return {
    filtered: true,
    bench,
    mustBeFree: [
      [FILTERED_BARE.postfix, smtp], [FILTERED_BARE.dovecot, lmtp], [BARE_FILTER.rspamd, MILTER_PORT], [BARE_FILTER.clamd, CLAMD_PORT],
      [BARE_FILTER.redis, REDIS_PORT], [BARE_FILTER.dns, DNS_PORT], [FULL_DNS, DNS_PORT],
    ],
    paths: [
      ['bare', (dir, b, defer, signal) => startBare(dir, b, defer, signal, {
        addresses: FILTERED_BARE,
        filter: { start: (filterDir, logs, d, s) => startBareFilter(filterDir, logs, BARE_FILTER, signatures, processes, d, s) },
      })],
      ['full', async (dir, b, defer, signal) => {
        // rspamd asks its resolver from its start on: the resolver comes first, and stops after the platform.
        const dns = await startResolver(join(dir, 'dns'), join(dir, 'dns'), FULL_DNS, defer, signal);
        const target = await startFull(dir, b, defer, signal);
        return withHelpers(target, new Map([[dns.child.pid ?? 0, 'dns']]));
      }],
    ],
    afterWarmUp: refusesVirus,
  };
}

/** A message with the ClamAV test file attached, as a mail client sends one. */
function virusMessage(to: string): string {
  const b64 = readFileSync(TEST_VIRUS_FILE).toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: <bench@${BENCH_DOMAIN}>`, `To: <${to}>`, 'Subject: invoice', `Message-ID: <virus-${Date.now()}@client.bench.test>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`, 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
    '--b', 'Content-Type: text/plain', '', 'See the attachment.', '--b', 'Content-Type: application/octet-stream; name="clam.exe"',
    'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="clam.exe"', '', b64, '--b--', '',
  ].join('\r\n');
}

/** Throws unless `target` refuses the test virus at the end of DATA with a 5xx naming its signature. */
async function refusesVirus(target: DeliveryTarget, signal: AbortSignal): Promise<void> {
  const to = `user1@${BENCH_DOMAIN}`;
  const session = await openSmtpSession({ host: target.smtpHost, port: target.smtpPort, heloName: 'client.bench.test', timeoutMs: 60_000, signal });
  try {
    const r = await session.send({ from: `bench@${BENCH_DOMAIN}`, to: [to], data: virusMessage(to) });
    const text = r.data?.lines.join(' ') ?? '';
    if (Math.floor((r.data?.code ?? 0) / 100) !== 5 || !text.includes(TEST_VIRUS_NAME)) {
      throw new Error(`${target.name}: the test virus was not refused naming ${TEST_VIRUS_NAME}: ${JSON.stringify(r.data ?? r.rcpt)} (logs: ${target.logs})`);
    }
    console.error(`bench: ${target.name} refuses the test virus: ${r.data?.code ?? ''} ${text}`);
  } finally {
    await session.quit();
  }
}

/** The head of a delivered message file (the headers rspamd added come first). */
function head(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    const text = buf.subarray(0, n).toString('latin1');
    const end = text.search(/\r?\n\r?\n/);
    return end < 0 ? text : text.slice(0, end);
  } finally {
    closeSync(fd);
  }
}

/** Every delivered message of `recipients` by its `X-Spam-Status` value (`(none)` when rspamd did not scan it). */
export function scanVerdicts(mailRoot: string, recipients: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of recipients) {
    const [local, domain] = r.split('@');
    for (const sub of ['new', 'cur']) {
      const d = join(mailRoot, domain ?? '', local ?? '', 'Maildir', sub);
      let names: string[];
      try {
        names = readdirSync(d);
      } catch {
        continue;
      }
      for (const name of names) {
        const value = SCANNED_HEADER.exec(head(join(d, name)).replace(/\r?\n[ \t]+/g, ' '))?.[1]?.trim() ?? UNSCANNED;
        out.set(value, (out.get(value) ?? 0) + 1);
      }
    }
  }
  return out;
}
