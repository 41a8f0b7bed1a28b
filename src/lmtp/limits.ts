/**
 * How much the router takes, derived from what the platform's MTAs accept, so that a message Postfix accepted is
 * never refused for its size further in.
 */

/**
 * Slack above `message_size_limit`. Postfix already bounds what its LMTP client sends: smtpd counts each line
 * unstuffed plus CRLF, and cleanup caps the whole queue file (envelope and the headers added after smtpd
 * counted included) at `message_size_limit`. The slack only keeps rounding on our side from mattering.
 */
export const MESSAGE_SLACK_BYTES = 1024 * 1024;

/**
 * The largest body the router takes, in the bytes its stream counts: as received, dot-stuffed, CRLF line ends.
 * Dot-stuffing adds one byte to a line that starts with a dot, and such a line counts at least 3 bytes at the
 * MTA (the dot and CRLF), so the body on the wire is at most 4/3 of what Postfix counted.
 */
export function maxBodyBytes(messageSizeLimit: number): number {
  return Math.ceil(((messageSizeLimit + MESSAGE_SLACK_BYTES) * 4) / 3);
}
