import { readFileSync, writeFileSync } from 'node:fs';
import { MailfleetError } from '../../errors.ts';

/**
 * Hands out loopback addresses from a /16 like a pod network hands out pod IPs: every new incarnation
 * of an instance gets a fresh address, and addresses are not reused while the counter has room.
 * Every 127.x.y.z is routed to `lo` on Linux and can be bound without configuring it.
 */
export interface AddressPool {
  allocate(): string;
  release(address: string): void;
}

export function createAddressPool(cidr: string, stateFile: string): AddressPool {
  const m = /^127\.(\d+)\.0\.0\/16$/.exec(cidr);
  if (!m) throw new MailfleetError('SPEC_INVALID', `address pool ${cidr}: expected 127.N.0.0/16`);
  const second = Number(m[1]);
  const inUse = new Set<string>();
  let next = 0;
  try {
    next = Number((JSON.parse(readFileSync(stateFile, 'utf8')) as { next?: unknown }).next) || 0;
  } catch {
    next = 0;
  }
  const capacity = 256 * 254;
  const addressOf = (n: number) => `127.${second}.${Math.floor(n / 254)}.${(n % 254) + 1}`;

  return {
    allocate() {
      for (let tries = 0; tries < capacity; tries++) {
        const address = addressOf(next % capacity);
        next = (next + 1) % capacity;
        if (!inUse.has(address)) {
          inUse.add(address);
          writeFileSync(stateFile, JSON.stringify({ next }) + '\n');
          return address;
        }
      }
      throw new MailfleetError('ADDRESS_POOL_EXHAUSTED', `no free address left in ${cidr}`);
    },
    release(address) {
      inUse.delete(address);
    },
  };
}
