/**
 * ConfigMaps holding the output of the same generators the single host runs, and the platform Secret.
 * Secrets and the pod's own name are placeholders here; the agent resolves them in the pod.
 */
import { stringify } from 'yaml';
import { podInstanceContext } from '../../agent/index.ts';
import { platformSecretKeys, POD_NAME_PLACEHOLDER, postfixOutboundFiles, redactSpec, roleConfigFiles, type ConfigFiles, type ConfigInput } from '../../config/index.ts';
import { MailfleetError } from '../../errors.ts';
import { generateSecret, missingSecrets, ROLES, withSecrets, type PlatformSpec } from '../../spec/index.ts';
import { kubePeers, meta, OUTBOUND_POOLS, PROXY_AUTH_SERVICE, PROXY_LMTP_SERVICE, PROXY_QUOTA_SERVICE, quotaChecked, replicasOf, serviceHost, type MailWorkload, type RenderContext } from './context.ts';
import type { KubeObject, Rendered } from './objects.ts';

export const specConfigMapName = (ctx: RenderContext): string => `${ctx.platform}-spec`;
export const roleConfigMapName = (ctx: RenderContext, w: MailWorkload): string => `${ctx.platform}-${w}-config`;
export const secretName = (ctx: RenderContext): string => ctx.spec.kubernetes.existingSecret || `${ctx.platform}-secrets`;

/** Where foreign mail goes: the outbound pools' Services, when they run. */
export function relayOf(ctx: RenderContext): ConfigInput['relay'] {
  const { outbound } = ctx.spec;
  if (outbound.mailout.replicas === 0) return undefined;
  return { mailout: serviceHost(ctx, 'mailout'), ...(outbound.fallback.replicas > 0 ? { fallback: serviceHost(ctx, 'fallback') } : {}) };
}

/** The config input of a workload's pods: redacted spec, pod paths, the pod name as a placeholder. */
export function podConfigInput(ctx: RenderContext, w: MailWorkload): ConfigInput {
  const role = w === 'mailout' || w === 'fallback' ? 'mta' : w;
  const relay = relayOf(ctx);
  return {
    spec: redactSpec(ctx.spec).spec,
    instance: podInstanceContext(role, POD_NAME_PLACEHOLDER),
    peers: kubePeers(ctx),
    ...(relay ? { relay } : {}),
    // One name for every mta and msa pod (their ConfigMap is shared): the ready proxies, in DNS (LMTP) and behind one
    // Service address (the msa's SASL).
    ...(ctx.spec.roles.proxy.replicas > 0 ? { lmtpHost: serviceHost(ctx, PROXY_LMTP_SERVICE), authHost: serviceHost(ctx, PROXY_AUTH_SERVICE) } : {}),
    // The mta's quota questions, behind one Service address like the msa's SASL.
    ...(quotaChecked(ctx.spec) ? { quotaHost: serviceHost(ctx, PROXY_QUOTA_SERVICE) } : {}),
  };
}

export function workloadConfigFiles(ctx: RenderContext, w: MailWorkload): ConfigFiles {
  const input = podConfigInput(ctx, w);
  if (w === 'mailout' || w === 'fallback') return postfixOutboundFiles(input, w, ctx.spec.kubernetes.podNetworks);
  return roleConfigFiles(w, input);
}

function configMap(ctx: RenderContext, name: string, component: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(ctx, name, component), ...(Object.keys(data).length > 0 ? { data } : {}) };
}

/**
 * Values for a platform Secret made outside `render` (the operator's, a test's): the spec's secrets where
 * it gives them, fresh random ones where not, and the demo accounts' passwords from the spec.
 */
export function generatedSecretValues(spec: PlatformSpec): Record<string, string> {
  const { secrets } = redactSpec(withSecrets(spec, Object.fromEntries(missingSecrets(spec).map((s) => [s.name, generateSecret()]))));
  return secrets;
}

/**
 * A rendered Secret carries only what the spec gives: never a default, never a value generated here
 * (render is deterministic, and a random value in GitOps output would change on every run). Without the
 * platform secrets in the spec, the Secret must come from elsewhere: `spec.kubernetes.existingSecret`
 * (which the operator creates when absent).
 */
function refuseWithoutSecrets(ctx: RenderContext): void {
  const missing = missingSecrets(ctx.spec);
  if (missing.length === 0) return;
  throw new MailfleetError('SPEC_INVALID', `${ctx.platform}: no Secret can be rendered without the platform's secrets`, {
    details: [
      ...missing.map((s) => `${s.field}: required to render the platform Secret; or set spec.kubernetes.existingSecret`),
      `spec.kubernetes.existingSecret: name a Secret holding the keys ${platformSecretKeys(ctx.spec).join(', ')} (the operator creates it with random values when it does not exist)`,
    ],
  });
}

export function renderConfigs(ctx: RenderContext): Rendered[] {
  const out: Rendered[] = [];
  const { spec: redacted, secrets } = redactSpec(ctx.spec);
  const document = { apiVersion: ctx.doc.apiVersion, kind: ctx.doc.kind, metadata: { name: ctx.platform }, spec: redacted };
  out.push({
    object: configMap(ctx, specConfigMapName(ctx), 'config', {
      'mailfleet.yaml': stringify(document, { lineWidth: 0, sortMapEntries: true }),
      'peers.json': `${JSON.stringify(kubePeers(ctx), null, 2)}\n`,
    }),
  });
  const workloads: MailWorkload[] = [...ROLES, ...OUTBOUND_POOLS];
  for (const w of workloads) {
    if (replicasOf(ctx.spec, w) === 0) continue;
    out.push({ object: configMap(ctx, roleConfigMapName(ctx, w), w, workloadConfigFiles(ctx, w)) });
  }
  if (!ctx.spec.kubernetes.existingSecret) {
    refuseWithoutSecrets(ctx);
    out.push({
      comment: 'Secrets of the platform, from the spec. For GitOps, keep them out of the repository:\nset spec.kubernetes.existingSecret and create the Secret with these keys yourself.',
      object: { apiVersion: 'v1', kind: 'Secret', metadata: meta(ctx, secretName(ctx), 'config'), type: 'Opaque', stringData: secrets },
    });
  }
  return out;
}
