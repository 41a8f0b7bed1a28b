import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
/** A Postfix or Dovecot tool that hangs (a daemon wedged) must not hold its caller: a drain, a reload. */
const TOOL_TIMEOUT_MS = 5000;

/** Runs a daemon's admin tool (postfix, postqueue, postkick, doveadm), killed past TOOL_TIMEOUT_MS. */
export function runTool(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(file, args, { timeout: TOOL_TIMEOUT_MS, killSignal: 'SIGKILL' });
}
