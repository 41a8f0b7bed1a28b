/**
 * The prober: synthetic transactions through the platform (submit through msa and mta, read back over IMAP
 * and POP3 through the proxy, delete), with per-stage metrics. `mailfleet probe` assembles it.
 */
export { createProbeMetrics, type ProbeMetrics } from './metrics.ts';
export { createProber, type CycleReport, type Health, type Prober, type ProberOptions } from './prober.ts';
export { summarize, summaryText, type CycleSummary } from './report.ts';
export { ENDPOINTS, STAGES, staleAfterMs, type Endpoint, type EndpointName, type ProbeSettings, type ProbeTargets, type Stage } from './settings.ts';
export type { PathResult, StageFailure } from './stages.ts';
export { fixedTargets, peerTargets } from './targets.ts';
