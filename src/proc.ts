/** Reading processes from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

/** The pids of every process now running (and of zombies not yet reaped). */
export function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/**
 * The fields of /proc/PID/stat after the command name: state (0: `Z` a zombie), ppid (1), pgrp (2), …, utime
 * (11), stime (12), …, starttime (19). Undefined when the process is gone. The command name is parenthesised
 * and may hold spaces and parentheses, so the fields are counted from the last ')'.
 */
export function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process's command name (`/proc/PID/comm`: the executable's name, at most 15 bytes), undefined when it is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
  } catch {
    return undefined;
  }
}

/** The process groups of `pid`'s descendants (children, theirs, …), read from /proc now; `pid`'s own not included. */
export function descendantGroups(pid: number): Set<number> {
  const children = new Map<number, number[]>();
  const groups = new Map<number, number>();
  for (const p of allPids()) {
    const fields = statFields(p);
    if (fields === undefined) continue;
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), p]);
    groups.set(p, Number(fields[2]));
  }
  const out = new Set<number>();
  const queue = [...(children.get(pid) ?? [])];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    const group = groups.get(p);
    if (group !== undefined && group !== pid) out.add(group);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}
