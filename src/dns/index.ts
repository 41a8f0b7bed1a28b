export { kubernetesProfiles, KUBERNETES_DEFAULT_TITLE, MAILFLEET_TITLE, runAudit, sameQueries, type AuditOptions, type AuditProfile, type AuditReport, type ProfileAudit, type ProfileObservation } from './audit.ts';
export { AUDIT_SERVER_HOST, DNS_PORT, startAuditServer, TCP_IDLE_TIMEOUT_MS, type AuditServer, type AuditServerOptions, type ObservedQuery } from './audit-server.ts';
export {
  applyPodDnsConfig,
  KUBERNETES_CLUSTER_DNS,
  KUBERNETES_DEFAULT_NDOTS,
  KUBERNETES_DEFAULT_RESOLVER,
  KUBERNETES_DEFAULT_SEARCH,
  MAILFLEET_DNS_CONFIG,
  podResolvConf,
  type PodDnsConfig,
  type PodResolver,
} from './kubernetes.ts';
export { checkObservePrerequisites, GETENT_DEADLINE_MS, observeProblems, observeResolver, type Observation, type ObserveOptions } from './observe.ts';
export { auditReportJson, formatAuditReport } from './report.ts';
export { optionWords, parseResolvConf, renderResolvConf, type ResolvConf, type ResolvConfContext, type ResolverFlag, type ResolverFlags } from './resolv-conf.ts';
export {
  absoluteName,
  addrconfigTypes,
  AF_UNSPEC_TYPES,
  hostNameProblem,
  parseHostName,
  predictQueries,
  type AddressType,
  type Candidate,
  type PredictedQuery,
  type Prediction,
  type PredictOptions,
} from './search.ts';
export { createFrameReader, frame, type FrameReader } from './tcp-frames.ts';
export { buildFormatError, buildQuery, buildResponse, decodeName, encodeName, parseQuery, parseResponse, presentName, QTYPE, qtypeName, RCODE, type DnsParseResult, type DnsQuery, type DnsVerdict, type NameAddresses } from './wire.ts';
