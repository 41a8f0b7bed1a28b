/**
 * IMAPS login load: `concurrency` clients, each in a loop of TLS connect (a full handshake, no session
 * resumption, verifying the certificate against the platform's CA), greeting, LOGIN, LOGOUT, until the
 * window ends. Users are taken round-robin.
 */
import { connect, type TLSSocket } from 'node:tls';

export interface LoginLoad {
  host: string;
  port: number;
  servername: string;
  ca: string;
  users: string[];
  password: string;
  concurrency: number;
  durationMs: number;
}

export interface LoginResult {
  logins: number;
  failures: number;
  firstFailure?: string;
  elapsedMs: number;
  latenciesMs: number[];
}

const STEP_TIMEOUT_MS = 10_000;

/** Reads lines until one satisfies `done`; resolves with that line. */
function untilLine(socket: TLSSocket, done: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => fail(new Error('no answer in time')), STEP_TIMEOUT_MS);
    const onData = (chunk: string) => {
      buf += chunk;
      for (let end = buf.indexOf('\n'); end >= 0; end = buf.indexOf('\n')) {
        const line = buf.slice(0, end).trimEnd();
        buf = buf.slice(end + 1);
        if (done(line)) {
          cleanup();
          resolve(line);
          return;
        }
      }
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => fail(new Error('connection closed'));
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('close', onClose);
  });
}

async function oneLogin(load: LoginLoad, user: string): Promise<void> {
  const socket = connect({ host: load.host, port: load.port, servername: load.servername, ca: load.ca, minVersion: 'TLSv1.2' });
  socket.setEncoding('latin1');
  try {
    const greeting = untilLine(socket, () => true);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    if (!(await greeting).startsWith('* OK')) throw new Error('no IMAP greeting');
    const reply = untilLine(socket, (l) => l.startsWith('a '));
    socket.write(`a LOGIN "${user}" "${load.password}"\r\n`);
    const line = await reply;
    if (!line.startsWith('a OK')) throw new Error(`${user}: ${line}`);
    const bye = untilLine(socket, (l) => l.startsWith('b '));
    socket.write('b LOGOUT\r\n');
    await bye;
  } finally {
    socket.destroy();
  }
}

export async function runLogins(load: LoginLoad, signal: AbortSignal): Promise<LoginResult> {
  const result: LoginResult = { logins: 0, failures: 0, elapsedMs: 0, latenciesMs: [] };
  const started = performance.now();
  const end = started + load.durationMs;
  let next = 0;
  await Promise.all(Array.from({ length: load.concurrency }, async () => {
    while (performance.now() < end && !signal.aborted) {
      const user = load.users[next++ % load.users.length] ?? '';
      const t0 = performance.now();
      try {
        await oneLogin(load, user);
        result.logins++;
        result.latenciesMs.push(performance.now() - t0);
      } catch (err) {
        result.failures++;
        result.firstFailure ??= err instanceof Error ? err.message : String(err);
      }
    }
  }));
  result.elapsedMs = performance.now() - started;
  return result;
}
