/**
 * One message on its way to the backends of its recipients: a transaction at each, opened with the message's
 * first part, then the rest written to all of them as it arrives, at the pace of the slowest (no part is read
 * from the client while one backend is still behind). Replies come back in RCPT order.
 */
import type { LmtpReply } from '../protocol/index.ts';
import type { BackendPool, FirstChunk, MessageSink } from './backend-pool.ts';

export interface Recipient {
  readonly address: string;
  readonly backend: string;
}

export interface Delivery {
  /** Writes a part to every backend; resolves once every one can take more. */
  write(part: Buffer): Promise<void>;
  /** Ends the message with its last bytes (none when the first part was the whole message); one reply per recipient, in RCPT order. */
  finish(last: Buffer): Promise<LmtpReply[]>;
  /** Gives the message up everywhere: no backend stores it. */
  abort(): void;
}

/** Opens a transaction at each backend of `recipients` (waiting for a slot where it must), sending `first` with it. */
export async function startDelivery(
  pool: BackendPool,
  from: { readonly address: string; readonly params: readonly string[] },
  recipients: readonly Recipient[],
  first: FirstChunk,
): Promise<Delivery> {
  const byBackend = new Map<string, number[]>();
  recipients.forEach((r, i) => byBackend.set(r.backend, [...(byBackend.get(r.backend) ?? []), i]));
  const legs: { sink: MessageSink; indexes: number[] }[] = await Promise.all([...byBackend].map(async ([backend, indexes]) => ({
    indexes,
    sink: await pool.begin(backend, {
      sender: from.address,
      mailParams: from.params,
      recipients: indexes.map((i) => (recipients[i] as Recipient).address),
    }, first),
  })));
  return {
    async write(part) {
      let behind = false;
      for (const leg of legs) if (!leg.sink.write(part)) behind = true;
      if (behind) await Promise.all(legs.map((leg) => leg.sink.whenWritable()));
    },
    async finish(last) {
      const replies = new Array<LmtpReply>(recipients.length);
      await Promise.all(legs.map(async (leg) => {
        const got = await leg.sink.finish(last);
        leg.indexes.forEach((i, k) => (replies[i] = got[k] as LmtpReply));
      }));
      return replies;
    },
    abort() {
      for (const leg of legs) leg.sink.abort();
    },
  };
}
