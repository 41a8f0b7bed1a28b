/**
 * Mailbox quota at RCPT time: the quota relay a proxy's agent runs, between the MTAs' policy checks and the backends'
 * Dovecot quota-status.
 */
export { startQuotaRelay, type QuotaRelay, type QuotaRelayOptions, type RelayTuning } from './relay.ts';
export { FAIL_OPEN_REASONS, RELAY_ANSWERS, type FailOpenReason, type RelayAnswer } from './metrics.ts';
export { createRoomCache, HEADROOM_BYTES, ROOM_MAX_ENTRIES, ROOM_TTL_MS, type RoomCache } from './room.ts';
