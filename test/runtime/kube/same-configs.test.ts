import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceContext, podInstanceContext } from '../../../src/agent/index.ts';
import { POD_NAME_PLACEHOLDER, postfixHealthHost, redactSpec, roleConfigFiles, type Peers } from '../../../src/config/index.ts';
import { kubePeers, podConfigInput, renderContext, renderPlatform } from '../../../src/runtime/kube/index.ts';
import { generateSecret, loadSpecFile, ROLES, validateSpec, withSecrets, type Role } from '../../../src/spec/index.ts';

const example = loadSpecFile(new URL('../../../examples/mailfleet.yaml', import.meta.url).pathname);
/**
 * The single host runs no outbound pool (it holds foreign mail in the queue); compare with a spec whose
 * pools are off too. With pools on, only the relay lines change (render-practices.test.ts covers them).
 * Two proxies, so that the LMTP next hop of the single host has a fallback relay to account for.
 */
const doc = validateSpec({
  ...example,
  spec: withSecrets(
    {
      ...example.spec,
      roles: { ...example.spec.roles, proxy: { ...example.spec.roles.proxy, replicas: 2 } },
      outbound: { mailout: { ...example.spec.outbound.mailout, replicas: 0 }, fallback: { ...example.spec.outbound.fallback, replicas: 0 } },
    },
    // What the single host generates on first start.
    { ldapAdminPassword: generateSecret(), ldapReaderPassword: generateSecret(), ldapAuthPassword: generateSecret(), ldapTlsKey: generateSecret(), doveadmApiKey: generateSecret(), backendLoginPassword: generateSecret(), authRelayKey: generateSecret(), backendTlsKey: generateSecret(), redisPassword: generateSecret(), filterControllerPassword: generateSecret(), authPolicyApiKey: generateSecret(), authPolicyHashNonce: generateSecret() },
  ),
});
const STATE_DIR = '/var/lib/mailfleet-same-configs';
/** The instance's own listen address; its entry in the peer list is a separate fact (as for a pod). */
const OWN_ADDRESS = '127.77.99.99';

/** Single-host peers: every instance on its own loopback address, as `mailfleet up` assigns them; the policy server's and rspamd's one. */
function localPeers(): Peers {
  const out = {} as Peers;
  ROLES.forEach((role, r) => {
    out[role] = Array.from({ length: doc.spec.roles[role].replicas }, (_, i) => ({ name: `${role}-${i}`, host: `127.77.${r + 1}.${i + 10}` }));
  });
  out.policy = [{ name: 'policy-0', host: '127.77.50.10' }];
  out.as = [{ name: 'as-0', host: '127.77.60.10' }];
  return out;
}

/**
 * The one setting allowed to differ in substance, the LMTP next hop of an mta or msa: the single host names every
 * proxy by address (the one the instance's ordinal picks first, the others as fallback relays; no name holds them
 * there), Kubernetes one name whose A records are the ready proxies. The single host's lines must name each proxy
 * once; they then read as the ConfigMap's one line.
 */
function lmtpNextHop(text: string, local: Peers): string {
  const first = /^virtual_transport = lmtp:inet:\[([^\]]+)\]:(\d+)$/m.exec(text);
  if (first === null) return text;
  const fallback = /^lmtp_fallback_relay = (.*)$/m.exec(text)?.[1]?.split(' ') ?? [];
  const named = [first[1], ...fallback.map((d) => {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(d);
    return m !== null && m[2] === first[2] ? m[1] : `not a proxy's LMTP endpoint: ${d}`;
  })];
  assert.deepEqual(named.sort(), local.proxy.map((p) => p.host).sort(), 'the single host names every proxy once');
  const kubeHost = podConfigInput(renderContext(doc), 'mta').lmtpHost ?? '?';
  return text.replace(first[0], `virtual_transport = lmtp:inet:[${kubeHost}]:${first[2]}`).replace(/^lmtp_fallback_relay = .*\n/m, '');
}

/**
 * The other, the msa's SASL server, in the target file of its agent's relay (Postfix itself names the relay on the
 * instance's own address, which the addresses step maps): the single host names the proxy the instance's ordinal
 * picks (proxy-0 for msa-0) by address, Kubernetes the one Service address of the ready proxies.
 */
function saslServer(text: string, local: Peers): string {
  const target = /^([^:\n]+):(\d+)\n$/.exec(text);
  if (target === null || !text.startsWith(local.proxy[0]?.host ?? '?')) return text;
  assert.equal(target[1], local.proxy[0]?.host, 'msa-0 of the single host has its logins checked by proxy-0');
  const kubeHost = podConfigInput(renderContext(doc), 'msa').authHost ?? '?';
  return `${kubeHost}:${target[2]}\n`;
}

/**
 * And the mta's quota relay: the single host names the proxy the instance's ordinal picks by address, Kubernetes the
 * one Service address of the ready proxies (config/postfix-quota.ts).
 */
function quotaRelay(text: string, local: Peers): string {
  const check = /check_policy_service \{ inet:([^:\s]+):(\d+), timeout=\d+s, default_action=DUNNO, try_limit=1 \}/.exec(text);
  if (check === null) return text;
  assert.equal(check[1], local.proxy[0]?.host, 'mta-0 of the single host asks proxy-0 about quota');
  const kubeHost = podConfigInput(renderContext(doc), 'mta').quotaHost ?? '?';
  return text.replace(`inet:${check[1]}:${check[2]}`, `inet:${kubeHost}:${check[2]}`);
}

/**
 * Maps what is allowed to differ: the LMTP next hop and the SASL server (above), peer addresses → peer DNS names, the
 * instance's own name and address (its health-check smtpd's: a pod's loopback), directories, and secret values → the
 * placeholders the Secret fills in.
 */
function normalise(text: string, role: Role, local: Peers): string {
  const kube = kubePeers(renderContext(doc));
  const localInstance = instanceContext(STATE_DIR, role, `${role}-0`, OWN_ADDRESS);
  const pod = podInstanceContext(role, POD_NAME_PLACEHOLDER);
  const { secrets } = redactSpec(doc.spec);
  const replaceAll = (s: string, pairs: [string, string][]) =>
    // Longest first, so a prefix never replaces part of a longer match.
    [...pairs].sort((a, b) => b[0].length - a[0].length).reduce((acc, [from, to]) => acc.split(from).join(to), s);
  let out = replaceAll(quotaRelay(saslServer(lmtpNextHop(text, local), local), local), [
    [localInstance.configDir, pod.configDir], [localInstance.dataDir, pod.dataDir], [localInstance.runDir, pod.runDir], [localInstance.mailDir, pod.mailDir],
    ...Object.entries(secrets).map(([key, value]): [string, string] => [value, `{{mailfleet.secret.${key}}}`]),
    // The health-check smtpd listens on the instance's own address: in a pod, which listens on every address, its loopback.
    ...[doc.spec.ports.smtpHealth, doc.spec.ports.submissionsHealth].map((port): [string, string] => [`${OWN_ADDRESS}:${port} `, `${postfixHealthHost(pod.listen)}:${port} `]),
    // So does the msa's SMTP AUTH relay, which its Postfix reaches on the same loopback.
    [`inet:${OWN_ADDRESS}:${doc.spec.ports.auth}\n`, `inet:${postfixHealthHost(pod.listen)}:${doc.spec.ports.auth}\n`],
    [OWN_ADDRESS, pod.listen],
  ]);
  out = out.replace(new RegExp(`\\b${role}-0\\b`, 'g'), POD_NAME_PLACEHOLDER);
  const peerPairs: [string, string][] = [];
  for (const r of ROLES) local[r].forEach((p, i) => peerPairs.push([p.host, kube[r][i]?.host ?? '?']));
  // One policy instance on the single host, the policy Service in Kubernetes.
  for (const p of local.policy ?? []) peerPairs.push([p.host, kube.policy?.[0]?.host ?? '?']);
  // One rspamd instance on the single host, the as Service in Kubernetes.
  for (const p of local.as ?? []) peerPairs.push([p.host, kube.as?.[0]?.host ?? '?']);
  return replaceAll(out, peerPairs);
}

for (const role of ROLES) {
  const nextHop = role === 'mta' || role === 'msa'
    ? ` (and the LMTP next hop${role === 'msa' ? ' and SASL server' : ' and quota relay'}: proxies by address, or the name of the ready ones)`
    : '';
  test(`GIVEN the ${role} config of the single host and of the Kubernetes ConfigMap THEN they differ only in addresses, names, paths and secrets${nextHop}`, () => {
    const local = localPeers();
    const localFiles = roleConfigFiles(role, { spec: doc.spec, instance: instanceContext(STATE_DIR, role, `${role}-0`, OWN_ADDRESS), peers: local });
    const configMap = renderPlatform(doc).find((o) => o.kind === 'ConfigMap' && o.metadata.name === `demo-${role}-config`);
    assert.ok(configMap, `ConfigMap demo-${role}-config is rendered`);
    const kubeFiles = (configMap.data ?? {}) as Record<string, string>;
    assert.deepEqual(Object.keys(kubeFiles).sort(), Object.keys(localFiles).sort(), 'the same files');
    for (const [name, text] of Object.entries(localFiles)) {
      const expected = kubeFiles[name] ?? '';
      const actual = normalise(text, role, local);
      const a = actual.split('\n');
      const e = expected.split('\n');
      const i = a.findIndex((line, n) => line !== e[n]);
      assert.equal(i, -1, `${role}/${name} line ${i + 1}: single host ${JSON.stringify(a[i])} vs ConfigMap ${JSON.stringify(e[i])}`);
      assert.equal(a.length, e.length, `${role}/${name}: same number of lines`);
    }
  });
}
