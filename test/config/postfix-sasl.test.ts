/**
 * Which proxy's Dovecot auth an msa has SMTP AUTH checked by (`auth-relay-target`, which its agent's relay reads): on one
 * host the proxy its ordinal picks, the same one its LMTP deliveries go to first; in Kubernetes the one name of the
 * ready proxies. Postfix itself talks to the relay on its own loopback only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTH_RELAY_TARGET_FILE, parseAuthRelayTarget, roleConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { localPeers, postfixInput } from './peers.ts';

const input = (role: 'mta' | 'msa', name: string, peers: Peers, authHost?: string): ConfigInput =>
  postfixInput(role, name, peers, authHost === undefined ? {} : { authHost });

/** The main.cf settings `i` renders, by name. */
function settings(i: ConfigInput): Map<string, string> {
  const main = roleConfigFiles(i.instance.role, i)['main.cf'] ?? '';
  return new Map(main.split('\n').flatMap((l) => {
    const m = /^([a-z_]+) = (.*)$/.exec(l);
    return m ? [[m[1] as string, m[2] as string] as const] : [];
  }));
}

/** Where the msa's relay carries SMTP AUTH, as `host:port`. */
function saslPath(i: ConfigInput): string {
  const target = parseAuthRelayTarget(roleConfigFiles(i.instance.role, i)[AUTH_RELAY_TARGET_FILE] ?? '');
  return `inet:${target?.host ?? '?'}:${target?.port ?? '?'}`;
}

test('GIVEN an msa on one host or in a pod WHEN rendered THEN Postfix\'s SASL client talks to its agent\'s relay on its own loopback, never to a proxy', () => {
  const peers = localPeers(2);
  assert.equal(settings(input('msa', 'msa-1', peers)).get('smtpd_sasl_path'), `inet:${input('msa', 'msa-1', peers).instance.listen}:12345`);
  const pod = input('msa', '{{mailfleet.pod.name}}', peers, 'proxy-auth.mail.svc.cluster.local');
  const podSettings = settings({ ...pod, instance: { ...pod.instance, listen: '0.0.0.0' } });
  assert.equal(podSettings.get('smtpd_sasl_path'), 'inet:127.0.0.1:12345');
});

test('GIVEN an msa with no proxy WHEN rendered THEN its relay has nowhere to go and says so with an empty target', () => {
  const text = roleConfigFiles('msa', input('msa', 'msa-0', localPeers(0)))[AUTH_RELAY_TARGET_FILE];
  assert.equal(text, '');
  assert.equal(parseAuthRelayTarget(text ?? ''), undefined);
  for (const bad of ['proxy', ':12345', 'proxy:0', 'proxy:70000', 'proxy:x']) assert.equal(parseAuthRelayTarget(bad), undefined, bad);
  assert.deepEqual(parseAuthRelayTarget('proxy-auth.mail.svc.cluster.local:12345\n'), { host: 'proxy-auth.mail.svc.cluster.local', port: 12345 });
});

test('GIVEN two msas and two proxies on one host WHEN rendered THEN each msa has its logins checked by a different proxy', () => {
  const peers = localPeers(2);
  assert.equal(saslPath(input('msa', 'msa-0', peers)), 'inet:127.77.3.10:12345');
  assert.equal(saslPath(input('msa', 'msa-1', peers)), 'inet:127.77.3.11:12345');
});

test('GIVEN more msas than proxies WHEN rendered THEN the ordinal wraps round', () => {
  const peers = localPeers(3);
  assert.equal(saslPath(input('msa', 'msa-3', peers)), 'inet:127.77.3.10:12345');
  assert.equal(saslPath(input('msa', 'msa-5', peers)), 'inet:127.77.3.12:12345');
});

test('GIVEN one proxy WHEN rendered THEN every msa has its logins checked there', () => {
  for (const name of ['msa-0', 'msa-1', 'msa-2']) assert.equal(saslPath(input('msa', name, localPeers(1))), 'inet:127.77.3.10:12345', name);
});

test('GIVEN an msa on one host WHEN rendered THEN its logins and its first LMTP next hop go to the same proxy', () => {
  const peers = localPeers(3);
  for (const name of ['msa-0', 'msa-1', 'msa-2', 'msa-7']) {
    const main = settings(input('msa', name, peers));
    const sasl = /^inet:([^:]+):\d+$/.exec(saslPath(input('msa', name, peers)))?.[1];
    const lmtp = /^lmtp:inet:\[([^\]]+)\]:\d+$/.exec(main.get('virtual_transport') ?? '')?.[1];
    assert.ok(sasl !== undefined && sasl === lmtp, `${name}: SASL ${sasl ?? '?'}, LMTP ${lmtp ?? '?'}`);
  }
});

test('GIVEN authHost (the Kubernetes Service of ready proxies) WHEN rendered THEN it is where every msa has its logins checked, whatever the proxy peers', () => {
  const host = 'proxy-auth.mail.svc.cluster.local';
  for (const name of ['{{mailfleet.pod.name}}', 'msa-1']) assert.equal(saslPath(input('msa', name, localPeers(3), host)), `inet:${host}:12345`, name);
});

test('GIVEN the mta WHEN rendered THEN it offers no SMTP AUTH and names no SASL server, authHost or not', () => {
  for (const authHost of [undefined, 'proxy-auth.mail.svc.cluster.local']) {
    const main = settings(input('mta', 'mta-1', localPeers(2), authHost));
    assert.equal(main.get('smtpd_sasl_auth_enable'), 'no');
    assert.equal(main.has('smtpd_sasl_path'), false);
  }
});
