import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPassLookup, parseAuthMasterReply, tabEscape, tabUnescape } from '../../src/protocol/auth-master.ts';

test('GIVEN a user WHEN a passdb lookup is formatted THEN it is one tab-separated line with the service', () => {
  assert.equal(formatPassLookup(7, 'alice@example.com', { service: 'lmtp' }), 'PASS\t7\talice@example.com\tservice=lmtp\n');
});

test('GIVEN a user name with tabs and newlines WHEN formatted THEN it cannot start another field or request', () => {
  const line = formatPassLookup(1, 'a\tb\nPASS\t2\tx', {});
  assert.equal(line.split('\n').length, 2);
  assert.equal(line.split('\t').length, 3);
  assert.equal(tabUnescape(tabEscape('a\tb\nc\x01')), 'a\tb\nc\x01');
});

test('GIVEN the director answer WHEN parsed THEN its fields, the backend among them, are read', () => {
  const r = parseAuthMasterReply('PASS\t1\tuser=alice@example.com\tproxy=y\tproxy_refresh=450\thost=127.77.0.4');
  assert.deepEqual(r, { ok: true, value: { kind: 'pass', id: 1, fields: { user: 'alice@example.com', proxy: 'y', proxy_refresh: '450', host: '127.77.0.4' } } });
});

test('GIVEN NOTFOUND, FAIL and handshake lines WHEN parsed THEN each is told apart', () => {
  assert.deepEqual(parseAuthMasterReply('NOTFOUND\t5'), { ok: true, value: { kind: 'notfound', id: 5 } });
  assert.deepEqual(parseAuthMasterReply('FAIL\t6\treason=LDAP down'), { ok: true, value: { kind: 'fail', id: 6, reason: 'LDAP down' } });
  assert.deepEqual(parseAuthMasterReply('VERSION\t1\t1'), { ok: true, value: { kind: 'info', name: 'VERSION' } });
  assert.deepEqual(parseAuthMasterReply('SPID\t22470'), { ok: true, value: { kind: 'info', name: 'SPID' } });
});

test('GIVEN hostile lines WHEN parsed THEN each is a typed error, never a throw', () => {
  for (const line of ['', 'PASS', 'PASS\tx', 'PASS\t-1', 'NOTFOUND\t99999999999999999999', 'HELLO\t1', '\u0000\u00ff']) {
    const r = parseAuthMasterReply(line);
    assert.equal(r.ok, false, line);
    if (!r.ok) assert.equal(r.error.code, 'PROTOCOL_MALFORMED_REPLY');
  }
});
