/**
 * Mail protocol codecs (pure: lines in, typed values out; Postfix log lines and the showq stream too)
 * and the small dialog clients that health checks, the prober and tests use, in plaintext or on TLS
 * (implicit or STARTTLS). Only `client/connection.ts` opens sockets.
 */
export {
  PROTOCOL_ERROR_CODES,
  isProtocolError,
  type ParseErrorCode,
  type ProtocolError,
  type ProtocolErrorCode,
} from './errors.ts';
export { parseComplete, type ParseError, type ParseResult } from './result.ts';
export { DEFAULT_MAX_LINE_BYTES, createLineSplitter, type LineSplitter, type LineSplitterOptions } from './lines.ts';
export {
  DEFAULT_MAX_REPLY_LINES,
  createSmtpReplyParser,
  helloCapabilities,
  parseSmtpReply,
  parseSmtpReplyLine,
  type SmtpReply,
  type SmtpReplyLine,
  type SmtpReplyParser,
  type SmtpReplyParserOptions,
} from './smtp-reply.ts';
export {
  parseImapResponse,
  type ImapCapabilityResponse,
  type ImapContinuation,
  type ImapResponse,
  type ImapStatus,
  type ImapStatusResponse,
  type ImapUntaggedData,
} from './imap-response.ts';
export {
  DEFAULT_MAX_MULTILINE_LINES,
  createPop3MultilineParser,
  parsePop3Multiline,
  parsePop3Status,
  type Pop3MultilineOptions,
  type Pop3MultilineParser,
  type Pop3Status,
} from './pop3-response.ts';
export {
  formatLmtpReply,
  lmtpReply,
  parseLmtpCommand,
  recipientUser,
  type LmtpCommand,
  type LmtpCommandResult,
  type LmtpReply,
} from './lmtp-command.ts';
export {
  DEFAULT_POLICY_MAX_ATTRIBUTES,
  DEFAULT_POLICY_MAX_LINE_BYTES,
  DEFAULT_POLICY_MAX_REQUEST_BYTES,
  POLICY_ATTRIBUTES,
  createPolicyDecoder,
  decodePolicyRequests,
  formatPolicyReply,
  type PolicyAttribute,
  type PolicyDecoder,
  type PolicyDecoderOptions,
  type PolicyRequest,
} from './policy.ts';
export { createPolicyReplyDecoder, formatPolicyRequest, MAX_POLICY_REPLY_BYTES, type PolicyReplyDecoder } from './policy-reply.ts';
export {
  AUTH_POLICY_COMMANDS,
  AUTH_POLICY_MAX_BODY_BYTES,
  authPolicyCommand,
  formatAuthPolicyReply,
  parseAuthPolicyRequest,
  type AuthPolicyCommand,
  type AuthPolicyRequest,
} from './auth-policy.ts';
export { POSTFIX_LOG_MAX_LINE_BYTES, parsePostfixLogLine } from './postfix-log.ts';
export { DEFAULT_KEEP_BYTES, createLogLineSplitter, type LogLineSplitter } from './log-lines.ts';
export {
  POSTFIX_DAEMONS,
  POSTSCREEN_ACTIONS,
  POSTSCREEN_REJECT_REASONS,
  SMTP_STAGES,
  type BounceNotification,
  type CleanupAction,
  type DeliveryDelays,
  type DeliveryStatus,
  type MilterFailureReason,
  type MilterStage,
  type PostfixLogEvent,
  type PostfixLogEventKind,
  type PostfixLogLevel,
  type PostfixService,
  type PostscreenAction,
  type PostscreenRejectReason,
  type SmtpdAction,
  type SmtpdCommandCount,
  type SmtpStage,
} from './postfix-log-events.ts';
export {
  DEFAULT_SHOWQ_MAX_FIELD_BYTES,
  DEFAULT_SHOWQ_MAX_RECIPIENTS,
  createShowqDecoder,
  type ShowqDecoder,
  type ShowqDecoderOptions,
  type ShowqMessage,
} from './showq.ts';
export {
  createImapResponseAssembler,
  DEFAULT_MAX_LITERALS,
  DEFAULT_MAX_TEXT_BYTES,
  literalLength,
  type ImapLiteralOptions,
  type ImapResponseAssembler,
  type ImapResponseText,
} from './imap-literal.ts';
export { parseHttpRequestLine, type HttpRequestLine } from './http-request.ts';
export { AUTH_MASTER_HANDSHAKE, formatPassLookup, parseAuthMasterReply, type AuthMasterReply } from './auth-master.ts';
export { DEFAULT_STEP_TIMEOUT_MS, type DialogOptions, type DialogResult } from './client/dialog.ts';
export type { TlsClientOptions, TlsDetail, TlsMinVersion, TlsMode } from './client/tls.ts';
export { lmtpLhlo, smtpEhlo, type HelloDetail, type HelloOptions } from './client/smtp.ts';
export { imapCapability, type ImapCapabilityDetail, type ImapCommandResponse } from './client/imap.ts';
export { DEFAULT_MAX_LITERAL_BYTES, openImapSession, type ImapSession, type ImapSessionOptions } from './client/imap-session.ts';
export { pop3Capa, type Pop3CapaDetail } from './client/pop3.ts';
export { redisCommand, redisPing, respCommand, type RedisPingDetail, type RedisPingOptions } from './client/redis.ts';
export { clamdPing, type ClamdPingDetail } from './client/clamd.ts';
export { dovecotAuthHandshake, type DovecotAuthDetail } from './client/dovecot-auth.ts';
export { tcpConnect, type TcpConnectDetail } from './client/tcp.ts';
export { openSmtpSession, type Envelope, type SendResult, type SmtpSession, type SmtpSessionOptions } from './client/smtp-session.ts';
export { openPop3Session, type Pop3Session, type Pop3SessionOptions } from './client/pop3-session.ts';
