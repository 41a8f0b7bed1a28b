/** The plainest readiness check: the port accepts a TCP connection. */
import { runDialog, type DialogOptions, type DialogResult } from './dialog.ts';

export interface TcpConnectDetail {
  /** `host:port` that accepted the connection. */
  readonly address: string;
}

/** Connects and closes at once; rejects with `PROTOCOL_CONNECT_FAILED`, `PROTOCOL_TIMEOUT` or `PROTOCOL_ABORTED`. */
export function tcpConnect(options: DialogOptions): Promise<DialogResult<TcpConnectDetail>> {
  return runDialog(options, async (connection) => ({ address: connection.address }));
}
