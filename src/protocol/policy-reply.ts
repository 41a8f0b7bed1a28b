/**
 * The client side of the Postfix policy delegation protocol (SMTPD_POLICY_README), pure: a request out, the server's
 * reply in. For a relay that asks another policy server on a client's behalf (the quota relay asks a backend's
 * Dovecot quota-status).
 *
 * A reply is one `action=<text>` line and an empty line. The decoder takes bytes as they come and yields the action
 * once the empty line has arrived; it is strict, since the server may be broken: anything but that (another
 * attribute, a second action, a line past {@link MAX_POLICY_REPLY_BYTES}, a byte outside printable ASCII, bytes after
 * the reply in the same read) is an error, after which it yields nothing more.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

/** Longest reply accepted: `action=`, 512 characters of action (what {@link formatPolicyReply} allows) and the line ends. */
export const MAX_POLICY_REPLY_BYTES = 7 + 512 + 4;

const ACTION_LINE = /^action=([\x20-\x7e]{1,512})\r?$/;
/** A value that may go out as one attribute: no line end, no NUL. */
const SAFE_VALUE = /^[^\r\n\0]*$/;

/**
 * One request: `request=smtpd_access_policy`, then `attributes` in the order given, then the empty line. A value
 * holding a line end or NUL would be read as more attributes by the server: a caller bug, so it throws.
 */
export function formatPolicyRequest(attributes: Readonly<Record<string, string>>): Buffer {
  const lines = ['request=smtpd_access_policy'];
  for (const [name, value] of Object.entries(attributes)) {
    if (!/^[a-z_]{1,64}$/.test(name) || !SAFE_VALUE.test(value)) throw new RangeError(`policy attribute ${JSON.stringify(name)} cannot be sent as given`);
    lines.push(`${name}=${value}`);
  }
  return Buffer.from(`${lines.join('\n')}\n\n`, 'utf8');
}

export interface PolicyReplyDecoder {
  /** Bytes the server sent. */
  push(chunk: Buffer): void;
  /** The action once a whole reply is in, the error that ends the connection, or undefined while more is needed. */
  next(): ParseResult<string> | undefined;
  /** Bytes held and not yet decoded. */
  buffered(): number;
}

export function createPolicyReplyDecoder(): PolicyReplyDecoder {
  let held = '';
  let failed = false;
  let action: string | undefined;

  function fail(message: string, input?: string): ParseResult<string> {
    failed = true;
    held = '';
    return parseFailure('PROTOCOL_MALFORMED_REPLY', message, input);
  }

  return {
    push(chunk) {
      if (!failed) held += chunk.toString('latin1');
    },
    next() {
      if (failed) return undefined;
      for (;;) {
        const lf = held.indexOf('\n');
        if (lf === -1) {
          if (held.length > MAX_POLICY_REPLY_BYTES) return fail(`a reply line longer than ${MAX_POLICY_REPLY_BYTES} bytes`, held);
          return undefined;
        }
        const line = held.slice(0, lf);
        held = held.slice(lf + 1);
        if (line === '' || line === '\r') {
          if (action === undefined) return fail('an empty reply');
          const done = action;
          action = undefined;
          if (held.length > 0) return fail('bytes after the reply, before any request', held);
          return parsed(done);
        }
        if (action !== undefined) return fail('a reply with more than one line', line);
        const m = ACTION_LINE.exec(line);
        if (!m) return fail('a reply line that is not action=<printable text>', line);
        action = m[1];
      }
    },
    buffered: () => held.length,
  };
}
