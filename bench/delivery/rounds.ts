/**
 * Taking turns: the path that is not being timed is frozen (SIGSTOP on its whole process tree), so both paths
 * can stay up for several alternating rounds without the idle one using any CPU.
 */
import { processTree } from '../support/processes.ts';
import type { cpuDelta } from './cpu.ts';
import type { DeliveryTarget } from './target.ts';

type Cpu = ReturnType<typeof cpuDelta>;

function signalTree(target: DeliveryTarget, signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of processTree(target.processRoots()).keys()) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

export function freeze(target: DeliveryTarget): void {
  signalTree(target, 'SIGSTOP');
}

export function thaw(target: DeliveryTarget): void {
  signalTree(target, 'SIGCONT');
}

/** Two CPU deltas as one: per-component and totals added. */
export function addCpu(a: Cpu, b: Cpu): Cpu {
  const byComponent = new Map(a.byComponent);
  for (const [k, v] of b.byComponent) byComponent.set(k, (byComponent.get(k) ?? 0) + v);
  return { byComponent, oursMs: a.oursMs + b.oursMs, outsideMs: a.outsideMs + b.outsideMs };
}
