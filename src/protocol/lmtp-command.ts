/**
 * LMTP commands (RFC 2033 over RFC 5321 syntax) as a server reads them: one line in, a typed command out,
 * or the reply the protocol gives to a line it cannot take. Pure: no sockets, no session state.
 */

/** A reply the server sends as is: code, enhanced code, text. */
export interface LmtpReply {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

export type LmtpCommand =
  | { readonly verb: 'LHLO'; readonly name: string }
  | { readonly verb: 'MAIL'; readonly sender: string; readonly params: readonly string[] }
  | { readonly verb: 'RCPT'; readonly recipient: string; readonly params: readonly string[] }
  | { readonly verb: 'DATA' | 'RSET' | 'NOOP' | 'QUIT' | 'VRFY' | 'HELO' | 'EHLO' };

export type LmtpCommandResult = { readonly ok: true; readonly command: LmtpCommand } | { readonly ok: false; readonly reply: LmtpReply };

/** MAIL FROM parameters the router forwards unchanged: the backend (Dovecot LMTP) takes exactly these. */
const MAIL_PARAMS = /^BODY=(7BIT|8BITMIME)$/i;

export function lmtpReply(code: number, enhanced: string, text: string): LmtpReply {
  return { code, enhanced, text };
}

/** `250 2.0.0 OK` on the wire, CRLF included. */
export function formatLmtpReply(reply: LmtpReply): string {
  return `${reply.code} ${reply.enhanced} ${reply.text}\r\n`;
}

const SYNTAX = lmtpReply(501, '5.5.4', 'Syntax error in parameters');
const UNKNOWN = lmtpReply(500, '5.5.1', 'Unknown command');

/** Whether `text` holds a control character (0-31, 127). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c === 127) return true;
  }
  return false;
}

/**
 * `<local@domain>` (or `<>` for MAIL) followed by ESMTP parameters. Source routes (`<@a,@b:user@c>`) are
 * accepted and dropped as RFC 5321 says. Quoted local parts are kept as sent.
 */
function parsePath(rest: string, allowEmpty: boolean): { address: string; params: string[] } | undefined {
  const text = rest.trimStart();
  if (!text.startsWith('<')) return undefined;
  let end = -1;
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) {
      end = i;
      break;
    }
  }
  if (end === -1) return undefined;
  let address = text.slice(1, end);
  const route = /^@[^:]*:/.exec(address);
  if (route) address = address.slice(route[0].length);
  if (address === '' && !allowEmpty) return undefined;
  // No control character anywhere, quoted or not (RFC 5321's qtextSMTP and quoted-pairSMTP are 32-126): a NUL
  // would end the director's lookup early and the backend would refuse what the router had said 250 to.
  if (hasControl(address)) return undefined;
  if (address !== '' && (!address.includes('@') || /[\s<>]/.test(address.replace(/"(?:[^"\\]|\\.)*"/g, '')))) return undefined;
  const after = text.slice(end + 1);
  if (after !== '' && !after.startsWith(' ')) return undefined;
  const params = after.split(' ').filter((p) => p !== '');
  return { address, params };
}

/** Parses one command line (terminator stripped). */
export function parseLmtpCommand(line: string): LmtpCommandResult {
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  switch (verb) {
    case 'LHLO': {
      const name = rest.trim();
      if (name === '' || /\s/.test(name)) return { ok: false, reply: lmtpReply(501, '5.5.4', 'Invalid parameters') };
      return { ok: true, command: { verb, name } };
    }
    case 'MAIL': {
      if (!/^FROM:/i.test(rest)) return { ok: false, reply: SYNTAX };
      const path = parsePath(rest.slice(5), true);
      if (!path) return { ok: false, reply: lmtpReply(501, '5.5.4', 'Invalid FROM: address') };
      if (!path.params.every((p) => MAIL_PARAMS.test(p))) return { ok: false, reply: lmtpReply(555, '5.5.4', 'Unsupported parameters') };
      return { ok: true, command: { verb, sender: path.address, params: path.params } };
    }
    case 'RCPT': {
      if (!/^TO:/i.test(rest)) return { ok: false, reply: SYNTAX };
      const path = parsePath(rest.slice(3), false);
      if (!path) return { ok: false, reply: lmtpReply(501, '5.5.4', 'Invalid TO: address') };
      if (path.params.length > 0) return { ok: false, reply: lmtpReply(555, '5.5.4', 'Unsupported parameters') };
      return { ok: true, command: { verb, recipient: path.address, params: path.params } };
    }
    case 'DATA':
    case 'RSET':
    case 'NOOP':
    case 'QUIT':
      if (verb !== 'NOOP' && rest.trim() !== '') return { ok: false, reply: SYNTAX };
      return { ok: true, command: { verb } };
    case 'VRFY':
    case 'HELO':
    case 'EHLO':
      return { ok: true, command: { verb } };
    default:
      return { ok: false, reply: UNKNOWN };
  }
}

/**
 * The user name a recipient is looked up by: the detail after the first `+` of the local part is dropped
 * (`alice+lists@example.com` → `alice@example.com`), the domain is lowercased, quotes stay.
 */
export function recipientUser(recipient: string, delimiter = '+'): string {
  const at = recipient.lastIndexOf('@');
  const local = recipient.slice(0, at);
  const domain = recipient.slice(at + 1).toLowerCase();
  const cut = local.startsWith('"') ? -1 : local.indexOf(delimiter);
  return `${cut > 0 ? local.slice(0, cut) : local}@${domain}`;
}
