import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { authPolicyCa } from '../../src/internal-tls/index.ts';
import { createLogger } from '../../src/log.ts';
import { AUTH_ALLOW } from '../../src/policy/auth-evaluate.ts';
import { startAuthListener } from '../../src/policy/auth-listener.ts';
import { createAuthPolicyMetrics } from '../../src/policy/auth-metrics.ts';
import { createLogThrottle } from '../../src/policy/log-throttle.ts';
import { until } from '../support/poll.ts';

const KEY = 'auth-policy-api-key-0123456789';
const HOST = '127.0.0.1';

/** The certificate the listener serves a client that trusts the hop's CA and checks the address. */
function served(port: number, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port, ca }, () => {
      const cert = new X509Certificate(socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0));
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

test('GIVEN the auth listener over TLS WHEN its certificate nears its end THEN new connections get a new one of the same CA, without a restart', async (t) => {
  // The listener's clock starts 25 days back: its certificate is valid now, with 30 days left by that clock.
  let clock = Date.now() - 25 * 86_400_000;
  const end = (from: number): number => Math.floor((from + 30 * 86_400_000) / 1000) * 1000;
  const errors: unknown[] = [];
  const listener = await startAuthListener({
    listen: { host: HOST, port: 0 },
    apiKey: KEY,
    judge: async () => AUTH_ALLOW,
    metrics: createAuthPolicyMetrics(new Registry()),
    throttle: createLogThrottle(createLogger('test', { level: 'silent' }), 10_000),
    tls: { names: [HOST], checkMs: 10, now: () => clock, onRenewalError: (err) => errors.push(err) },
  });
  t.after(() => listener.close());
  const ca = authPolicyCa(KEY).certPem;
  const first = await served(listener.address.port, ca);
  assert.equal(first.checkIP(HOST), HOST);
  assert.equal(Date.parse(first.validTo), end(clock));
  assert.equal(listener.certificateNotAfter()?.getTime(), end(clock));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await served(listener.address.port, ca)).serialNumber, first.serialNumber, 'not while more than ten days are left');
  // Five days left.
  clock += 25 * 86_400_000;
  await until('a renewed certificate', async () => (listener.certificateNotAfter()?.getTime() === end(clock) ? true : undefined), 2000, 10);
  const second = await served(listener.address.port, ca);
  assert.notEqual(second.serialNumber, first.serialNumber);
  assert.equal(Date.parse(second.validTo), end(clock));
  assert.deepEqual(errors, []);
  await assert.rejects(served(listener.address.port, authPolicyCa('another-auth-policy-key-0123').certPem), 'another CA does not vouch for it');
});
