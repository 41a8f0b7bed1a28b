/**
 * The admin endpoints of VictoriaMetrics and vmalert (deleting series, snapshots, merges, flushes, cache resets,
 * config reloads, `/flags`, `/debug/pprof`) answer only with the platform's metrics admin key
 * (`spec.alerting.adminKey`, as `?authKey=`). Queries, writes, `/metrics` and `/health` stay open: metrics may be
 * read by anyone on the pod network, changing or erasing them may not.
 *
 * The key travels in environment variables (both are started with `-envflag.enable`), never on the command line,
 * which every local user and `kubectl describe` could read. A variable is named after its flag, dots as
 * underscores; one that a version does not know is ignored.
 */

/** VictoriaMetrics' flags that guard an admin endpoint. */
export const VICTORIAMETRICS_ADMIN_FLAGS: readonly string[] = [
  'configAuthKey',
  'deleteAuthKey',
  'flagsAuthKey',
  'forceFlushAuthKey',
  'forceMergeAuthKey',
  'pprofAuthKey',
  'reloadAuthKey',
  'search.resetCacheAuthKey',
  'snapshotAuthKey',
];

/** vmalert's. */
export const VMALERT_ADMIN_FLAGS: readonly string[] = ['flagsAuthKey', 'pprofAuthKey', 'reloadAuthKey'];

/** The flag that makes them read flags from the environment. */
export const ENV_FLAGS_FLAG = '-envflag.enable';

/** The environment variable that sets `flag`. */
export const envFlagName = (flag: string): string => flag.replaceAll('.', '_');

/** The environment that sets each of `flags` to `key`, for a process started directly (the single host). */
export function adminKeyEnvironment(flags: readonly string[], key: string): Record<string, string> {
  return Object.fromEntries(flags.map((f) => [envFlagName(f), key]));
}
