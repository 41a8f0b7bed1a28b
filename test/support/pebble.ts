/**
 * A real ACME server for tests: Let's Encrypt's `pebble` (Debian package) on a loopback address, with its HTTPS
 * certificate made by the test and a tiny DNS responder that sends its HTTP-01 validations to the address where
 * the code under test answers them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { buildFormatError, buildResponse, parseQuery } from '../../src/dns/index.ts';
import { issueFromLocalCa, loadOrCreateLocalCa, tlsPaths } from '../../src/tls/index.ts';
import { until } from './poll.ts';

const DNS_PORT = 5353;
const ACME_PORT = 14000;
const MANAGEMENT_PORT = 15000;

/** Answers A queries for `names` with `address`, NODATA for other types, NXDOMAIN for other names; UDP only. */
export async function startDnsResponder(t: TestContext, opts: { host: string; names: string[]; address: string }): Promise<string> {
  const v4 = opts.address.split('.').map(Number);
  const names = new Set(opts.names.map((n) => `${n.toLowerCase()}.`));
  const socket = createSocket('udp4');
  socket.on('message', (packet, rinfo) => {
    const parsed = parseQuery(packet);
    const reply = parsed.ok ? buildResponse(parsed.query, names.has(parsed.query.name.toLowerCase()) ? 'exists' : 'nxdomain', { v4 }) : buildFormatError(packet);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(DNS_PORT, opts.host, () => resolve());
  });
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return `${opts.host}:${DNS_PORT}`;
}

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The CA of pebble's own HTTPS certificate: spec.tls.acme.caFile. */
  caFile: string;
  /** Pebble's root of the certificates it issues (regenerated at every start), PEM. */
  root(): Promise<string>;
  stop(): Promise<void>;
  running(): boolean;
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).on('timeout', function (this: { destroy(e: Error): void }) {
      this.destroy(new Error('timeout'));
    });
  });
}

/**
 * Starts pebble on `host` (ACME on 14000, management on 15000), validating HTTP-01 on `httpPort` of whatever
 * address `dnsServer` gives a name. Stopped (SIGKILL if need be) in t.after.
 */
export async function startPebble(t: TestContext, opts: { host: string; httpPort: number; dnsServer: string }): Promise<Pebble> {
  const dir = mkdtempSync('/tmp/mailfleet-pebble-');
  const tls = tlsPaths(dir, join(dir, 'certs'));
  mkdirSync(tls.root);
  const { ca } = await loadOrCreateLocalCa(tls, 'pebble-test');
  const served = await issueFromLocalCa(ca, { hosts: [opts.host], validityDays: 1, keyType: 'ecdsa-p256' });
  writeFileSync(join(dir, 'cert.pem'), served.cert);
  writeFileSync(join(dir, 'key.pem'), served.key, { mode: 0o600 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    pebble: {
      listenAddress: `${opts.host}:${ACME_PORT}`,
      managementListenAddress: `${opts.host}:${MANAGEMENT_PORT}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: opts.httpPort,
      tlsPort: 5001,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  let output = '';
  const child: ChildProcess = spawn('pebble', ['-config', join(dir, 'config.json'), '-dnsserver', opts.dnsServer], {
    // No artificial validation delay; never reject a good nonce (its default rejects some to test clients' retries).
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (output += c));
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  const stop = async () => {
    if (!exited) child.kill('SIGKILL');
    await gone;
  };
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const directory = `https://${opts.host}:${ACME_PORT}/dir`;
  await until(`pebble at ${directory}${exited ? ` (exited: ${output})` : ''}`, async () => ((await httpsGet(directory, ca.certPem)).status === 200 ? true : undefined), 20_000);
  return {
    directory,
    caFile: tls.caCert,
    async root() {
      const r = await httpsGet(`https://${opts.host}:${MANAGEMENT_PORT}/roots/0`, ca.certPem);
      if (r.status !== 200) throw new Error(`pebble /roots/0: HTTP ${r.status}`);
      return r.body;
    },
    stop,
    running: () => !exited,
  };
}
