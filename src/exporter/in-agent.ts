/**
 * A second door of the exporter room, for the agent of a Postfix role: the exporter without the file follower and the HTTP server of `mailfleet exporter postfix` (whatever an agent
 * loads stays resident in every pod it runs in; bench/README.md, "Footprint").
 */
export { createPostfixExporter, type PostfixExporter } from './postfix-exporter.ts';
