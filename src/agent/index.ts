export { runAgent, STOP_TIMEOUT_MS, type AgentOptions } from './agent.ts';
export { installCertificates, type CertificateFacts } from './certificates.ts';
export { requestDrain } from './control.ts';
export { listenOwnerOnly } from './fs.ts';
export { agentSocket, dkimKeysDir, instanceContext, instanceRunDir, peersFile, podInstanceContext, POD_PATHS, runPrefix, RUN_ROOT, tlsCertsDir } from './paths.ts';
export { DAEMONS, DOVECOT, generatedConfig, POSTFIX_MASTER, REDIS, SLAPD, type ConfigSource } from './daemons.ts';
export { loadPodSpec, mountedConfigFiles, mountedConfigSource, podPlaceholderValues, PEERS_FILE_NAME, SPEC_FILE_NAME, type PodMounts } from './pod.ts';
export { effectiveSettings, type AgentOrigin } from './settings.ts';
export { reapOrphans, waitGone, type LogFormat } from './supervise.ts';
