/** What the agent knows of a daemon: how to prepare, run and reload it (the roles' own are in daemons.ts). */
import type { ConfigFiles, ConfigInput } from '../config/index.ts';
import type { Logger } from '../log.ts';

/**
 * Where the daemon's config files come from. The single host generates them from the spec; a pod installs
 * them from its ConfigMap mount (see `mountedConfigSource`).
 */
export type ConfigSource = (input: ConfigInput) => ConfigFiles;

/** What init and reload work from: the generators' input, and where the config files come from (default: generated). */
export interface DaemonInput extends ConfigInput {
  configSource?: ConfigSource;
  /** The agent's logger, for what a reload leaves running after it returns. */
  log?: Logger;
}

/** Why a daemon cannot start yet, and the directory that must change first. */
export interface StartBlocker {
  detail: string;
  directory: string;
}

/** The user signals an agent is sent; SIGHUP is its own (reload). */
export type UserSignal = 'SIGUSR1' | 'SIGUSR2';

/** How the agent prepares, runs and reloads the daemon of one role. */
export interface Daemon {
  /**
   * What keeps the daemon from starting now (clamd: no signatures yet), or undefined once nothing does. `init`
   * fails while it holds; an agent in a pod waits until it no longer does (AgentOptions.awaitStart).
   */
  startBlocker?: (input: ConfigInput) => StartBlocker | undefined;
  /** Directories, config files, stale state: everything before the daemon may start. */
  init(input: DaemonInput): Promise<void>;
  /** argv of the foreground daemon. */
  command(input: ConfigInput): string[];
  /** Re-install configs (peers moved, or a pod's ConfigMap changed) and make the daemon pick them up. */
  reload(input: DaemonInput, pid: number): Promise<void>;
  /** Pid files a previous incarnation may have left behind, checked for live orphans at start. */
  pidFiles(input: ConfigInput): string[];
  /**
   * The daemon writes no pid file in the foreground (rspamd: "skip writing pid in no-fork mode"): the agent writes
   * the first of `pidFiles` itself once it has started it, so that orphans are found all the same.
   */
  agentWritesPidFile?: boolean;
  /**
   * Make the daemon load the certificates just installed, gracefully: open sessions finish on the old
   * ones. Only the roles with TLS listeners have it.
   */
  reloadCertificates?: (input: DaemonInput, pid: number) => Promise<void>;
  /**
   * The user signals the agent passes on to the daemon, with what each does there. Any other is not passed: it
   * would stop the daemon: Postfix's master and Redis stop on either, slapd, Dovecot and rspamd on SIGUSR2.
   */
  userSignals?: Partial<Record<UserSignal, string>>;
  /** How long after a reload the daemon must be left alone before the next one (default 0). */
  reloadSettleMs?: number;
}
