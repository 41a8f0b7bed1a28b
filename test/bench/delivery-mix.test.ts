import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTACHMENT_EVERY, mixedMessage } from '../../bench/delivery/mix.ts';
import { benchSpec, FILTERED_ADDRESS_POOL } from '../../bench/delivery/spec.ts';

const FROM = 'bench@bench.test';
const TO = 'user1@bench.test';
const SIZE = 4096;

/** The message without its Date header (the only part taken from the clock). */
const undated = (m: string): string => m.replace(/^Date: .*\r\n/m, '');
const body = (m: string): string => m.slice(m.indexOf('\r\n\r\n') + 4);

describe('the filtered delivery bench\'s messages', () => {
  it('GIVEN the same batch and number WHEN made twice THEN the messages are the same (both paths get the same mail)', () => {
    const a = mixedMessage({ from: FROM, to: TO, batch: 2, n: 17, size: SIZE });
    const b = mixedMessage({ from: FROM, to: TO, batch: 2, n: 17, size: SIZE });
    assert.equal(undated(a), undated(b));
  });

  it('GIVEN a warm-up and three rounds of 500 WHEN made THEN no two bodies are alike (rspamd would answer from its cache)', () => {
    const seen = new Set<string>();
    for (let batch = 0; batch <= 3; batch++) {
      for (let n = 0; n < 500; n++) seen.add(body(mixedMessage({ from: FROM, to: TO, batch, n, size: SIZE })));
    }
    assert.equal(seen.size, 4 * 500);
  });

  it('GIVEN messages of a batch WHEN made THEN one in ATTACHMENT_EVERY is multipart with a base64 attachment and each is about the size asked', () => {
    for (let n = 0; n < 4 * ATTACHMENT_EVERY; n++) {
      const m = mixedMessage({ from: FROM, to: TO, batch: 1, n, size: SIZE });
      const attached = n % ATTACHMENT_EVERY === ATTACHMENT_EVERY - 1;
      assert.equal(/^Content-Type: multipart\/mixed; boundary="[^"]+"\r$/m.test(m), attached, `message ${n}`);
      assert.equal(/^Content-Transfer-Encoding: base64\r$/m.test(m), attached, `message ${n}`);
      assert.match(m, /^Message-ID: <bench-1-\d+@client\.bench\.test>\r$/m);
      assert.match(m, /^Date: .+ \+0000\r$/m);
      const size = Buffer.byteLength(body(m));
      assert.ok(size > SIZE * 0.9 && size < SIZE * 1.3, `message ${n}: ${size} bytes of body`);
      assert.ok(m.split('\r\n').every((line) => line.length <= 998), 'no line longer than SMTP allows');
    }
  });
});

describe('the filtered delivery bench\'s platform', () => {
  it('GIVEN a filter WHEN the spec is made THEN it runs as and av with greylisting and public lists off, fails closed and asks the bench\'s resolver', () => {
    const { platform } = benchSpec(5, { signatures: '/tmp/sigs', nameserver: '127.131.0.54:53' });
    const { roles, filter, local } = platform.spec;
    assert.equal(roles.as.replicas, 1);
    assert.equal(roles.av.replicas, 1);
    assert.equal(filter.greylisting.enabled, false);
    assert.equal(filter.publicLists, false);
    assert.equal(filter.failure, 'closed');
    assert.deepEqual(filter.nameservers, ['127.131.0.54:53']);
    assert.equal(filter.antivirus.signatures?.directory, '/tmp/sigs');
    assert.equal(local.addressPool, FILTERED_ADDRESS_POOL);
  });

  it('GIVEN no filter WHEN the spec is made THEN as and av do not run', () => {
    const { roles } = benchSpec(5).platform.spec;
    assert.equal(roles.as.replicas, 0);
    assert.equal(roles.av.replicas, 0);
  });
});
