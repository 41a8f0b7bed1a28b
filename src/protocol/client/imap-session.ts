/**
 * An IMAP client session for logging in and asking questions (SELECT, SEARCH, FETCH, STORE): the
 * prober and tests use it. Literals in answers are followed up to `maxLiteralBytes` per response and
 * handed back on the data responses that carried them (FETCH BODY[]). With `tls` the session is on
 * TLS before it returns (implicit TLS, or STARTTLS right after the greeting).
 */
import { protocolError } from '../errors.ts';
import type { ImapStatusResponse } from '../imap-response.ts';
import type { Connection } from './connection.ts';
import { checkAuthOverTls, connectDialog, type DialogOptions } from './dialog.ts';
import { describe, imapStartTls, readGreeting, readTagged, type ImapCommandResponse } from './imap.ts';
import type { TlsDetail } from './tls.ts';

export interface ImapSessionOptions extends DialogOptions {
  /**
   * Let LOGIN send credentials without TLS. Default false: `login` on a plaintext session rejects
   * with `PROTOCOL_AUTH_WITHOUT_TLS` before anything is sent. Only for testing a server's refusal.
   */
  allowPlaintextAuth?: boolean;
  /** Most octets of literal data one response may carry (a fetched message). Default 1 MiB. */
  maxLiteralBytes?: number;
}

/** Default of {@link ImapSessionOptions.maxLiteralBytes}. */
export const DEFAULT_MAX_LITERAL_BYTES = 1024 * 1024;

export interface ImapSession {
  /** The untagged OK or PREAUTH greeting (its `capabilities` are those offered before any STARTTLS). */
  readonly greeting: ImapStatusResponse;
  /** The TLS session; undefined on plaintext. */
  readonly tls: TlsDetail | undefined;
  /** LOGIN; resolves with the tagged response (OK on success, NO on refused credentials). */
  login(user: string, password: string): Promise<ImapStatusResponse>;
  /** Sends `command` with the next tag and returns what came back up to its tagged response. */
  command(command: string): Promise<ImapCommandResponse>;
  /** LOGOUT, then closes the connection whatever the answer. */
  logout(): Promise<void>;
}

/** Whether a quoted string (RFC 3501 section 9) can hold `text`: 7-bit, without NUL, CR or LF. */
function quotable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0 || code === 0x0a || code === 0x0d || code > 0x7f) return false;
  }
  return true;
}
/** A command after its tag: printable, no line breaks. */
const COMMAND = /^[A-Za-z][\x20-\x7e]*$/;

export async function openImapSession(options: ImapSessionOptions): Promise<ImapSession> {
  const maxLiteralBytes = options.maxLiteralBytes ?? DEFAULT_MAX_LITERAL_BYTES;
  if (!Number.isSafeInteger(maxLiteralBytes) || maxLiteralBytes < 1) {
    throw protocolError('PROTOCOL_INVALID_OPTION', 'maxLiteralBytes must be a positive whole number', { address: `${options.host}:${options.port}`, step: 'options' });
  }
  const connection: Connection = await connectDialog(options);
  let tags = 0;
  const nextTag = (): string => `a${++tags}`;
  try {
    const greeting = await readGreeting(connection);
    if (options.tls?.mode === 'starttls') await imapStartTls(connection, nextTag(), options.tls);

    const tagged = async (step: string, command: string): Promise<ImapCommandResponse> => {
      const tag = nextTag();
      return connection.exchange(step, `${tag} ${command}`, readTagged(tag, maxLiteralBytes));
    };
    return {
      greeting,
      tls: connection.tls,
      async login(user, password) {
        checkAuthOverTls(connection, 'login', options.allowPlaintextAuth);
        if (!quotable(user) || !quotable(password)) {
          throw connection.error('PROTOCOL_INVALID_OPTION', 'login', 'user and password must be 7-bit text without NUL, CR or LF');
        }
        return (await tagged('login', `LOGIN ${quote(user)} ${quote(password)}`)).tagged;
      },
      async command(command) {
        if (!COMMAND.test(command)) throw connection.error('PROTOCOL_INVALID_OPTION', 'command', 'a command is one line of printable ASCII starting with a letter');
        const step = command.split(' ')[0]?.toLowerCase() ?? 'command';
        if (step === 'login' || step === 'authenticate') checkAuthOverTls(connection, step, options.allowPlaintextAuth);
        const response = await tagged(step, command);
        if (response.tagged.status === 'BAD') {
          throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, 'the server answered BAD', { reply: describe(response.tagged) });
        }
        return response;
      },
      logout: () => connection.close(() => tagged('logout', 'LOGOUT')),
    };
  } catch (err) {
    connection.destroy();
    throw err;
  }
}

function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
