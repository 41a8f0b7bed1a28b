import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { allPids, processName, statFields } from '../proc.ts';
import { runTool } from './tool.ts';


/** Postfix's delivery agents: a queue file is locked by one of them while it delivers. */
const DELIVERY_AGENTS = new Set(['smtp', 'lmtp', 'local', 'virtual', 'pipe', 'error', 'retry', 'discard']);
const POLL_MS = 500;
/** Longer than an LMTP or SMTP delivery may take (lmtp_data_done_timeout, 600 s) before its agent gives up. */
const OLD_AGENTS_MAX_MS = 15 * 60_000;

export interface PostfixReloadOptions {
  configDir: string;
  /** The instance's master; undefined: none found (nothing is delivering then). */
  masterPid: number | undefined;
  log?: Logger;
}

/** The pid master wrote in its queue directory (`pid/master.pid`), undefined when there is none. */
export function postfixMasterPid(queueDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(queueDir, 'pid', 'master.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A process as it was when seen: the pid and its start time, so a reused pid is not taken for it. */
interface Seen {
  pid: number;
  start: string;
}

/** master's delivery agents now running. */
function deliveryAgents(masterPid: number): Seen[] {
  const seen: Seen[] = [];
  for (const pid of allPids()) {
    const fields = statFields(pid);
    if (fields?.[1] !== String(masterPid) || !DELIVERY_AGENTS.has(processName(pid) ?? '')) continue;
    seen.push({ pid, start: fields[19] ?? '' });
  }
  return seen;
}

function alive(p: Seen): boolean {
  const fields = statFields(p.pid);
  return fields !== undefined && fields[0] !== 'Z' && fields[19] === p.start;
}

/**
 * Once the delivery agents of the generation before a reload have ended, asks qmgr to scan the incoming
 * queue. The new qmgr moves the active queue back to incoming when it starts and skips a file an old agent
 * still delivers ("skipped, still being delivered"); the old qmgr that would have removed it once delivered
 * is gone, so the file, every recipient done, would wait in incoming for the next scan (qmgr's wakeup, 300 s).
 */
async function kickAfter(old: Seen[], opts: PostfixReloadOptions): Promise<void> {
  const deadline = Date.now() + OLD_AGENTS_MAX_MS;
  while (old.some(alive) && Date.now() < deadline) await delay(POLL_MS, undefined, { ref: false });
  try {
    await runTool('postkick', ['-c', opts.configDir, 'public', 'qmgr', 'I']);
    opts.log?.debug({ agents: old.length }, 'delivery agents of the previous configuration done; qmgr scans incoming');
  } catch (err) {
    opts.log?.warn({ err: errorMessage(err) }, 'could not ask qmgr to scan incoming after the reload');
  }
}

/**
 * `postfix reload`. Deliveries in progress finish in the old generation of processes; once their agents have
 * ended, qmgr is asked to scan incoming (kickAfter), in the background: the returned promise is the reload's.
 */
export async function reloadPostfix(opts: PostfixReloadOptions): Promise<void> {
  const old = opts.masterPid === undefined ? [] : deliveryAgents(opts.masterPid);
  await runTool('postfix', ['-c', opts.configDir, 'reload']);
  if (old.length > 0) void kickAfter(old, opts);
}
