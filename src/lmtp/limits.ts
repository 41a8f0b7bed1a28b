/**
 * How much the router takes, derived from what the platform's MTAs accept (so that a message Postfix accepted
 * is never refused for its size further in) and from the proxy pod's memory limit (so that no client can take
 * the pod past it: the OOM kill would take the director, IMAP and POP3 with it).
 */

/**
 * Slack above `message_size_limit`. Postfix already bounds what its LMTP client sends: smtpd counts each line
 * unstuffed plus CRLF, and cleanup caps the whole queue file (envelope and the headers added after smtpd
 * counted included) at `message_size_limit`. The slack only keeps rounding on our side from mattering.
 */
export const MESSAGE_SLACK_BYTES = 1024 * 1024;

/**
 * The largest message the router takes, counted as its stream counts: dot-unstuffed, CRLF line ends, the way
 * Postfix's smtpd counts against `message_size_limit`. Counted after unstuffing, dot-stuffing adds nothing:
 * without that, a message of lone-dot lines would grow by a third on the wire.
 */
export function maxBodyBytes(messageSizeLimit: number): number {
  return messageSizeLimit + MESSAGE_SLACK_BYTES;
}

/**
 * What one session may hold at most: up to 64 KiB of unread input plus one read (64 KiB), the part of the
 * message in hand (up to both again, dot-unstuffed), the parts gathered before they go to the backends (less
 * than 32 KiB before that part, and a copy while they are joined), and per backend what its socket buffers
 * before it says "wait" (16 KiB); recipients and replies are small. Messages stream through: none is held whole, so the
 * message size does not enter. 512 KiB leaves room for what the heap keeps around that.
 */
export const SESSION_BYTES = 512 * 1024;

/**
 * The share of the proxy pod's memory the router's sessions may fill. The agent's own heap and the Dovecot
 * director, auth and IMAP/POP3 proxy processes live in the same pod.
 */
export const ROUTER_MEMORY_SHARE = 1 / 4;

/** Bounds on the session cap, whatever the pod's memory: enough for the MTAs' LMTP concurrency (20 each). */
const MIN_SESSIONS = 16;
const MAX_SESSIONS = 1024;

/** Concurrent sessions beyond which a new client is told 421 4.3.2 (512 for the default 1 GiB pod). */
export function maxSessions(memoryLimitBytes: number): number {
  const fit = Math.floor((memoryLimitBytes * ROUTER_MEMORY_SHARE) / SESSION_BYTES);
  return Math.min(MAX_SESSIONS, Math.max(MIN_SESSIONS, fit));
}
