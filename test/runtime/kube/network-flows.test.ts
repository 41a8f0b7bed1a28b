/**
 * Every connection the rendered platform is configured to make is one its NetworkPolicies let through, at both
 * ends. The connections are read from what the pods are given, not from the renderer's list of flows: each
 * `HOST:PORT` of an in-cluster name (`pod.service.ns.svc.cluster.local`, `service.ns.svc.cluster.local`) in a
 * component's ConfigMaps and in its pod template (arguments, environment). The Service named resolves the port
 * to the target pods' container port; the source's policy must allow egress to those pods on it, and the
 * target's policy ingress from the source's pods.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { parseSpec } from '../../../src/spec/index.ts';

type Labels = Record<string, string>;
interface PolicyPeer { podSelector?: { matchLabels?: Labels }; namespaceSelector?: unknown; ipBlock?: unknown }
interface PolicyRule { from?: PolicyPeer[]; to?: PolicyPeer[]; ports?: { port?: string | number; protocol?: string }[] }
interface PolicySpec { podSelector: { matchLabels?: Labels }; policyTypes?: string[]; ingress?: PolicyRule[]; egress?: PolicyRule[] }
interface ContainerPort { name?: string; containerPort: number }
interface PodTemplate { metadata: { labels: Labels }; spec: { containers: { ports?: ContainerPort[] }[]; initContainers?: unknown[] } }
interface ServicePort { port: number; targetPort?: string | number }

const COMPONENT = 'app.kubernetes.io/component';
const matches = (selector: Labels | undefined, labels: Labels): boolean => Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

interface Pods {
  component: string;
  labels: Labels;
  ports: ContainerPort[];
  /** Everything the pods are given as text: their template and their component's ConfigMaps. */
  text: string;
}

function podsOf(objects: KubeObject[]): Pods[] {
  const workloads = objects.filter((o) => ['StatefulSet', 'Deployment', 'DaemonSet'].includes(o.kind));
  return workloads.map((w) => {
    const template = (w.spec as { template: PodTemplate }).template;
    const component = template.metadata.labels[COMPONENT] ?? '';
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.[COMPONENT] === component);
    return {
      component,
      labels: template.metadata.labels,
      ports: template.spec.containers.flatMap((c) => c.ports ?? []),
      text: JSON.stringify(template) + configMaps.map((c) => Object.values((c as { data?: Record<string, string> }).data ?? {}).join('\n')).join('\n'),
    };
  });
}

/** Whether `policy` lets a connection through from/to `peer` pods on `port` (the target container's). */
function admits(rules: PolicyRule[] | undefined, direction: 'from' | 'to', peer: Labels, port: ContainerPort): boolean {
  return (rules ?? []).some((rule) => {
    const peers = rule[direction];
    const peerOk = peers === undefined || peers.some((p) => p.namespaceSelector === undefined && p.ipBlock === undefined && p.podSelector !== undefined && matches(p.podSelector.matchLabels, peer));
    const portOk = rule.ports === undefined || rule.ports.some((p) => p.port === undefined || p.port === port.containerPort || (port.name !== undefined && p.port === port.name));
    return peerOk && portOk;
  });
}

function policyFor(objects: KubeObject[], labels: Labels): PolicySpec[] {
  return objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec as PolicySpec).filter((p) => matches(p.podSelector.matchLabels, labels));
}

interface Connection { from: string; to: string; host: string; port: number; problem?: string }

function connections(objects: KubeObject[], namespace: string): Connection[] {
  const pods = podsOf(objects);
  const services = new Map(objects.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, o.spec as { selector?: Labels; ports: ServicePort[] }]));
  const name = new RegExp(`\\b(?:[a-z0-9-]+\\.)?([a-z0-9-]+)\\.${namespace}\\.svc\\.cluster\\.local\\]?:(\\d+)\\b`, 'g');
  const found: Connection[] = [];
  for (const source of pods) {
    for (const [, host = '', portText = ''] of source.text.matchAll(name)) {
      const port = Number(portText);
      const service = services.get(host);
      const base = { from: source.component, host, port };
      if (service?.selector === undefined) {
        found.push({ ...base, to: '?', problem: `no Service ${host} with a selector` });
        continue;
      }
      const servicePort = service.ports.find((p) => p.port === port);
      const targets = pods.filter((p) => matches(service.selector, p.labels));
      for (const target of targets) {
        const targetPort = servicePort?.targetPort ?? port;
        const containerPort = target.ports.find((p) => p.name === targetPort || p.containerPort === targetPort);
        const conn = { ...base, to: target.component };
        if (servicePort === undefined || containerPort === undefined) {
          found.push({ ...conn, problem: `Service ${host} has no port ${port} that a ${target.component} container serves` });
          continue;
        }
        const egress = policyFor(objects, source.labels).filter((p) => p.policyTypes?.includes('Egress'));
        const ingress = policyFor(objects, target.labels).filter((p) => p.policyTypes?.includes('Ingress'));
        if (egress.length > 0 && !egress.some((p) => admits(p.egress, 'to', target.labels, containerPort))) {
          found.push({ ...conn, problem: `${source.component}'s policy lets nothing out to ${target.component}:${containerPort.name ?? containerPort.containerPort}` });
        } else if (ingress.length > 0 && !ingress.some((p) => admits(p.ingress, 'from', source.labels, containerPort))) {
          found.push({ ...conn, problem: `${target.component}'s policy lets nothing in from ${source.component} on ${containerPort.name ?? containerPort.containerPort}` });
        } else {
          found.push(conn);
        }
      }
    }
  }
  return found;
}

for (const file of ['examples/mailfleet.yaml', 'test/golden/full-spec.yaml']) {
  test(`GIVEN ${file} WHEN rendered THEN every connection a pod is configured to make is let through by the policies of both ends`, () => {
    const platform = parseSpec(readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8'));
    const objects = renderPlatform(platform);
    const namespace = objects.find((o) => o.kind === 'StatefulSet')?.metadata.namespace ?? '';

    const found = connections(objects, namespace);

    // The reading finds the platform's main paths: a test that found nothing would pass for nothing.
    const seen = new Set(found.map((c) => `${c.from}→${c.to}`));
    for (const path of ['mta→proxy', 'msa→proxy', 'proxy→ldap', 'mta→ldap']) assert.ok(seen.has(path), `found ${path} (found: ${[...seen].join(', ')})`);
    // Mail for the served domains goes to the Service of ready proxies, which the reading resolves to the proxy pods.
    const lmtp = new Set(found.filter((c) => c.host === 'proxy-lmtp').map((c) => `${c.from}→${c.to}:${c.port}`));
    assert.deepEqual([...lmtp].sort(), ['msa→proxy:24', 'mta→proxy:24']);
    // The msa's SASL goes to the Service of ready proxies, and to no single proxy pod.
    const auth = found.filter((c) => c.port === platform.spec.ports.auth);
    assert.deepEqual([...new Set(auth.map((c) => `${c.from}→${c.host}→${c.to}:${c.port}`))], [`msa→proxy-auth→proxy:${platform.spec.ports.auth}`]);
    assert.deepEqual(found.filter((c) => c.problem !== undefined).map((c) => `${c.from} → ${c.host}:${c.port}: ${c.problem}`), []);
  });
}
