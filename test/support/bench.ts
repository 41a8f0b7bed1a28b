/** A bench of bench/ run as its users run it (`node bench/NAME.ts ARGS`), for the smoke tests of the benches. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs bench/`name`.ts with `args` on this Node.js; resolves with its exit status and stdout and stderr together. */
export function runBench(name: string, args: string[]): Promise<{ status: number | null; out: string }> {
  const file = fileURLToPath(new URL(`../../bench/${name}.ts`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out }));
  });
}
