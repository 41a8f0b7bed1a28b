/**
 * What the filter tests share: a DNS server that is not ours (unbound, on loopback, answering only the records a
 * test gives it and NXDOMAIN for the rest: nothing leaves loopback), a clamd signature database built with sigtool
 * over a ClamAV test file, DKIM keys made with openssl and messages signed and verified by python3-dkim.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runCli } from '../../support/platform.ts';
import { findProgram, freePort, startProcess, tempDir } from '../config/tools.ts';

export const UNBOUND = findProgram('unbound');
export const SIGTOOL = findProgram('sigtool');
/** Debian's Python, which has python3-dkim (a pyenv python first on PATH would not). */
export const PYTHON = '/usr/bin/python3';
/** The ClamAV test file of clamav-testfiles; the signature made from it names it as below. */
export const TEST_VIRUS_FILE = '/usr/share/clamav-testfiles/clam.exe';
export const TEST_VIRUS_NAME = 'Mailfleet-Test-Virus';

/** One TXT record: owner name and its text (split into 255-byte strings as DNS requires). */
export interface TxtRecord {
  name: string;
  text: string;
}

function txtData(text: string): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 255) parts.push(`"${text.slice(i, i + 255).replace(/"/g, '\\"')}"`);
  return parts.join(' ');
}

/** A port for the DNS server, free now on `host` (chosen before the platform, whose spec names it). */
export const dnsPort = (host: string): Promise<number> => freePort(host);

/**
 * unbound on `host`:`port` answering `records` from local data and NXDOMAIN for every other name (the root zone is
 * static: it never recurses).
 */
export async function startDns(t: TestContext, host: string, port: number, records: readonly TxtRecord[]): Promise<void> {
  const dir = tempDir(t, 'filter-dns');
  const conf = [
    'server:',
    `  interface: ${host}`,
    `  port: ${port}`,
    '  do-daemonize: no',
    '  use-syslog: no',
    '  logfile: ""',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    '  pidfile: ""',
    '  do-ip6: no',
    '  access-control: 127.0.0.0/8 allow',
    '  local-zone: "." static',
    ...records.map((r) => `  local-data: '${r.name}. 60 IN TXT ${txtData(r.text)}'`),
    'remote-control:',
    '  control-enable: no',
    '',
  ].join('\n');
  const file = join(dir, 'unbound.conf');
  writeFileSync(file, conf);
  await startProcess(t, UNBOUND as string, ['-d', '-c', file], /start of service/);
}

/** A directory clamd (as `clamav`) can read, holding one MD5 signature of the ClamAV test file, named TEST_VIRUS_NAME. */
export function signatureDirectory(parent: string): string {
  const dir = join(parent, 'signatures');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const line = execFileSync(SIGTOOL as string, ['--md5', TEST_VIRUS_FILE], { encoding: 'utf8' }).trim();
  const [hash, size] = line.split(':');
  writeFileSync(join(dir, 'mailfleet-test.hdb'), `${hash}:${size}:${TEST_VIRUS_NAME}\n`, { mode: 0o644 });
  chmodSync(dir, 0o755);
  return dir;
}

/** An RSA key pair from openssl: the PEM private key and the base64 public key for a DKIM TXT record. */
export function dkimKeyPair(): { privatePem: string; publicB64: string } {
  const privatePem = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], { encoding: 'utf8' });
  const der = execFileSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: privatePem });
  return { privatePem, publicB64: der.toString('base64') };
}

export const dkimRecord = (publicB64: string): string => `v=DKIM1; k=rsa; p=${publicB64}`;

/**
 * `mailfleet dkim generate DOMAIN` in a state directory, before the platform starts there; the record it asks to
 * publish, from `mailfleet dkim show DOMAIN --json`.
 */
export function generateDkimKey(stateDir: string, domain: string): TxtRecord & { selector: string } {
  const made = runCli(['dkim', 'generate', domain, '--state-dir', stateDir]);
  if (made.code !== 0) throw new Error(`dkim generate: ${made.stderr}`);
  const shown = runCli(['dkim', 'show', domain, '--json', '--state-dir', stateDir]);
  if (shown.code !== 0) throw new Error(`dkim show: ${shown.stderr}`);
  const { records } = JSON.parse(shown.stdout) as { records: { selector: string; name: string; value: string }[] };
  const [r] = records;
  if (!r) throw new Error(`dkim show listed no record: ${shown.stdout}`);
  return { selector: r.selector, name: r.name.replace(/\.$/, ''), text: r.value };
}

const PY_SIGN = `
import sys, dkim
key = open(sys.argv[3], 'rb').read()
msg = sys.stdin.buffer.read()
sig = dkim.sign(msg, sys.argv[1].encode(), sys.argv[2].encode(), key, include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])
sys.stdout.buffer.write(sig + msg)
`;

const PY_VERIFY = `
import sys, json, dkim
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    return records.get(name.decode().rstrip('.'), '').encode() or None
ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print('pass' if ok else 'fail')
`;

/** `message` signed by python3-dkim with `privatePem` for `domain`/`selector` (relaxed/simple, the usual headers). */
export function dkimSign(message: string, domain: string, selector: string, privatePem: string, dir: string): string {
  const keyFile = join(dir, `${domain}.${selector}.pem`);
  writeFileSync(keyFile, privatePem, { mode: 0o600 });
  return execFileSync(PYTHON, ['-c', PY_SIGN, selector, domain, keyFile], { input: message, encoding: 'utf8' });
}

/** python3-dkim's verdict on `raw`, the DKIM records answered from `records` (name → TXT text). */
export function dkimVerify(raw: string, records: readonly TxtRecord[]): 'pass' | 'fail' {
  const r = spawnSync(PYTHON, ['-c', PY_VERIFY, JSON.stringify(Object.fromEntries(records.map((x) => [x.name, x.text])))], { input: raw, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`python3-dkim failed: ${r.stderr}`);
  return r.stdout.trim() === 'pass' ? 'pass' : 'fail';
}

/** A well-formed message (Date, Message-ID, MIME), so that rspamd's rules for broken mail stay out of the score. */
export function mail(opts: { id: string; from: string; to: string; subject: string; body: string; extraHeaders?: string[] }): string {
  return [
    `From: Sender <${opts.from}>`,
    `To: <${opts.to}>`,
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.id}>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    ...(opts.extraHeaders ?? []),
    '',
    opts.body,
    '',
  ].join('\r\n');
}

/** A message with a base64 attachment. */
export function mailWithAttachment(opts: { id: string; from: string; to: string; subject: string; file: Buffer; filename: string }): string {
  const boundary = `b-${opts.id.replace(/[^a-z0-9]/gi, '')}`;
  const b64 = opts.file.toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: Sender <${opts.from}>`,
    `To: <${opts.to}>`,
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.id}>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See the attachment.',
    `--${boundary}`,
    `Content-Type: application/octet-stream; name="${opts.filename}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${opts.filename}"`,
    '',
    b64,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
