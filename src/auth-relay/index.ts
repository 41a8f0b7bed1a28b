export { startAuthRelayServer, RELAY_HANDSHAKE_TIMEOUT_MS, RELAY_IDLE_TIMEOUT_MS, type AuthRelayServer } from './server.ts';
export { startAuthRelayClient, relayConnectOptions, type AuthRelayClient, type RelayTarget } from './client.ts';
export { authRelayHandshake, dovecotAuthSocketHandshake } from './check.ts';
