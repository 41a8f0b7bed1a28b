/**
 * A second door of the protocol room: the codecs that reading a daemon's metrics takes (a whole HTTP response,
 * OpenMetrics text). Apart from index.ts so that only the agents that relay Dovecot's metrics (proxy, mailbox)
 * load them: whatever an agent loads stays resident in every pod it runs in (bench/README.md, "Footprint").
 */
export { parseHttpResponse, type HttpResponse } from './http-response.ts';
export { escapeLabel, MAX_OPENMETRICS_LINE_CHARS, openMetricsToPrometheus, type Converted, type ConvertOptions } from './openmetrics.ts';
