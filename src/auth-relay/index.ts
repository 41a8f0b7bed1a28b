export { startAuthRelayServer, RELAY_HANDSHAKE_TIMEOUT_MS, RELAY_KEEPALIVE_MS, type AuthRelayServer } from './server.ts';
export { startAuthRelayClient, relayConnectOptions, type AuthRelayClient, type RelayTarget } from './client.ts';
export { authRelayHandshake, dovecotAuthSocketHandshake } from './check.ts';
