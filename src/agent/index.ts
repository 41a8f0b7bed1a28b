export { runAgent, STOP_TIMEOUT_MS, type AgentOptions } from './agent.ts';
export { instanceContext, peersFile, podInstanceContext, POD_PATHS, runPrefix, RUN_ROOT } from './paths.ts';
export { DAEMONS } from './daemons.ts';
export type { LogFormat } from './supervise.ts';
