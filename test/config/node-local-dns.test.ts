/**
 * The node-local-dns Corefile. Debian ships no CoreDNS (nor k8s-dns-node-cache), so the Corefile is
 * checked structurally: a small parser of Caddyfile server blocks reads it back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLUSTER_DNS_PILLAR,
  NODE_LOCAL_DNS_COREFILE,
  NODE_LOCAL_DNS_METRICS_PORT,
  NODE_LOCAL_DNS_TCP_EXPIRE_S,
  nodeLocalDnsCorefile,
  UNBOUND_TCP_IDLE_TIMEOUT_MS,
} from '../../src/config/index.ts';
import { testSpec } from '../support/spec.ts';

const spec = testSpec('kubernetes: { clusterDomain: k8s.example.internal, nodeLocalDnsAddress: 169.254.25.10 }');

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}
interface ServerBlock {
  key: string;
  directives: Directive[];
}

/** Caddyfile server blocks: `KEY {`, one directive per line, `NAME ARGS... {` opens a sub-block, `}` closes. */
function parseCorefile(text: string): ServerBlock[] {
  const blocks: ServerBlock[] = [];
  const stack: Directive[][] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line === '}') {
      assert.ok(stack.pop(), `line ${i + 1}: unbalanced }`);
      continue;
    }
    const words = line.split(/\s+/);
    const opens = words.at(-1) === '{';
    if (opens) words.pop();
    if (stack.length === 0) {
      assert.ok(opens && words.length === 1, `line ${i + 1}: a server block starts with "KEY {"`);
      const directives: Directive[] = [];
      blocks.push({ key: words[0] as string, directives });
      stack.push(directives);
      continue;
    }
    const [name = '', ...args] = words;
    const directive: Directive = opens ? { name, args, block: [] } : { name, args };
    (stack.at(-1) as Directive[]).push(directive);
    if (directive.block) stack.push(directive.block);
  }
  assert.equal(stack.length, 0, 'unclosed block');
  return blocks;
}

function corefile(upstreamService = '10.96.0.53'): ServerBlock[] {
  return parseCorefile(nodeLocalDnsCorefile(spec, { upstreamService })[NODE_LOCAL_DNS_COREFILE] ?? '');
}

const find = (directives: Directive[], name: string) => directives.filter((d) => d.name === name);

test('GIVEN a spec WHEN the Corefile is rendered THEN it has the cluster domain, both reverse zones and the root, in that order', () => {
  assert.deepEqual(corefile().map((b) => b.key), ['k8s.example.internal:53', 'in-addr.arpa:53', 'ip6.arpa:53', '.:53']);
});

test('GIVEN any server block WHEN read THEN it binds only the node-local address and carries errors, cache, reload, loop and metrics on :9253', () => {
  for (const block of corefile()) {
    const names = block.directives.map((d) => d.name);
    for (const required of ['errors', 'cache', 'reload', 'loop', 'bind', 'forward', 'prometheus']) assert.equal(names.filter((n) => n === required).length, 1, `${block.key}: ${required}`);
    assert.deepEqual(find(block.directives, 'bind')[0]?.args, ['169.254.25.10']);
    assert.deepEqual(find(block.directives, 'prometheus')[0]?.args, [`:${NODE_LOCAL_DNS_METRICS_PORT}`]);
  }
});

test('GIVEN the cluster and reverse zones WHEN read THEN they go to kube-dns over TCP', () => {
  for (const block of corefile().slice(0, 3)) {
    const [forward] = find(block.directives, 'forward');
    assert.deepEqual(forward?.args, ['.', CLUSTER_DNS_PILLAR], block.key);
    assert.ok(forward?.block?.some((d) => d.name === 'force_tcp'), block.key);
  }
});

test('GIVEN the root zone WHEN read THEN it goes to the unbound upstream over TCP', () => {
  const root = corefile('10.96.0.53').at(-1) as ServerBlock;
  const [forward] = find(root.directives, 'forward');
  assert.deepEqual(forward?.args, ['.', '10.96.0.53']);
  assert.deepEqual(forward?.block?.map((d) => d.name), ['force_tcp', 'expire']);
});

test('GIVEN the reused TCP connections WHEN compared with unbound THEN node-local-dns drops an idle one before unbound closes it', () => {
  const expire = find(find(corefile()[0]?.directives ?? [], 'forward')[0]?.block ?? [], 'expire')[0]?.args[0];
  assert.equal(expire, `${NODE_LOCAL_DNS_TCP_EXPIRE_S}s`);
  assert.ok(NODE_LOCAL_DNS_TCP_EXPIRE_S * 1000 < UNBOUND_TCP_IDLE_TIMEOUT_MS);
});

test('GIVEN the health check WHEN read THEN it is served once, on the node-local address', () => {
  const health = corefile().flatMap((b) => find(b.directives, 'health'));
  assert.deepEqual(health.map((d) => d.args), [['169.254.25.10:8080']]);
});

test('GIVEN upstreams in the forms CoreDNS takes WHEN rendered THEN each is used as given', () => {
  for (const upstream of ['10.96.0.53', '10.96.0.53:5353', 'fd00::53', '[fd00::53]:53', '__PILLAR__UPSTREAM__SERVERS__', '{$UNBOUND_SERVICE_HOST}']) {
    assert.deepEqual(find(corefile(upstream).at(-1)?.directives ?? [], 'forward')[0]?.args, ['.', upstream]);
  }
});

test('GIVEN an upstream CoreDNS cannot forward to WHEN rendered THEN it is refused', () => {
  for (const upstream of ['unbound.mailfleet.svc.cluster.local', '10.96.0.53:99999', '10.96.0.53\n}', '', '[10.96.0.53]:53', 'fd00::53:53:zz']) {
    assert.throws(() => nodeLocalDnsCorefile(spec, { upstreamService: upstream }), RangeError, JSON.stringify(upstream));
  }
});

test('GIVEN the same input WHEN rendered twice THEN the bytes are the same', () => {
  assert.deepEqual(nodeLocalDnsCorefile(spec, { upstreamService: '10.96.0.53' }), nodeLocalDnsCorefile(spec, { upstreamService: '10.96.0.53' }));
});
