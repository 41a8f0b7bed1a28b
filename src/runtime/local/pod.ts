import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMONS, instanceContext } from '../../agent/index.ts';
import type { InstanceRole, PlatformSpec } from '../../spec/index.ts';
import { LOG_FILE_MODE } from './logs.ts';

export type PodState = 'starting' | 'running' | 'terminating' | 'backoff' | 'stopped';

/** What the runtime knows about one instance: its name is stable, its address and process are not. */
export interface Pod {
  role: InstanceRole;
  name: string;
  ordinal: number;
  address: string;
  state: PodState;
  ready: boolean;
  restarts: number;
  startedAt: number;
  pid?: number;
  child?: ChildProcess;
  exited?: Promise<number>;
  lastExitCode?: number;
}

export interface PodLaunch {
  cli: string[];
  specFile: string;
  stateDir: string;
  logDir: string;
  /** Where an instance serves /livez, /readyz and /metrics on its address (spec.ports.http). */
  httpPort: number;
  /** Where a policy instance serves Postfix on its address (spec.ports.policy). */
  policyPort: number;
  /** Where a policy instance serves the proxies' auth policy on its address (spec.ports.authPolicy); undefined: it does not. */
  authPolicyPort?: number;
}

/**
 * The command of an instance: a mail role's agent, which supervises its daemon; the prober and the policy server
 * run as themselves (as their pods do), with health and metrics on the instance's HTTP port like an agent's.
 */
function instanceArgs(pod: Pod, launch: PodLaunch): string[] {
  if (pod.role === 'probe') {
    return ['probe', '--name', pod.name, '--listen', `${pod.address}:${launch.httpPort}`, '--state-dir', launch.stateDir];
  }
  if (pod.role === 'policy') {
    return [
      'policy', '--state-dir', launch.stateDir, '--name', pod.name,
      '--listen', `${pod.address}:${launch.policyPort}`, '--metrics', `${pod.address}:${launch.httpPort}`,
      ...(launch.authPolicyPort === undefined ? [] : ['--auth-listen', `${pod.address}:${launch.authPolicyPort}`]),
    ];
  }
  return [
    'agent', '--role', pod.role, '--name', pod.name, '--listen', pod.address,
    '-f', launch.specFile, '--state-dir', launch.stateDir, '--log-format', 'raw',
  ];
}

/** Starts the instance's process (its own process group, output appended to its log file). */
export function launchAgent(pod: Pod, launch: PodLaunch): void {
  const [node, ...prefix] = launch.cli;
  if (node === undefined) throw new TypeError('empty agent command');
  // Root's only, as the logs dir is.
  const logFd = openSync(join(launch.logDir, `${pod.name}.log`), 'a', LOG_FILE_MODE);
  const child = spawn(node, [...prefix, ...instanceArgs(pod, launch)], { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  pod.child = child;
  pod.pid = child.pid;
  pod.startedAt = Date.now();
  pod.exited = new Promise((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 143)));
  });
}

/** Pid files of the daemon behind an instance, for clean-up after its agent was killed. */
export function daemonPidFiles(spec: PlatformSpec, stateDir: string, pod: Pod): { files: string[]; exe: string } {
  // The prober and the policy server are their own processes: no daemon stays behind them.
  if (pod.role === 'probe' || pod.role === 'policy') return { files: [], exe: '' };
  const instance = instanceContext(stateDir, pod.role, pod.name, pod.address);
  const daemon = DAEMONS[pod.role];
  const input = { spec, instance, peers: { ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] } };
  return { files: daemon.pidFiles(input), exe: daemon.command(input)[0] ?? '' };
}
