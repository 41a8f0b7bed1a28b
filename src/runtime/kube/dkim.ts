/**
 * The DKIM signing keys in Kubernetes: the Secret `<platform>-dkim`, whose keys are the files rspamd reads
 * (`selectors.map`, `<domain>.<selector>.key`; see src/dkim). `mailfleet render` never makes it: a render is
 * deterministic and goes to GitOps, and a private key generated there would end up in a repository. It comes
 * from the key store that `mailfleet dkim` manages (`mailfleet dkim export-secret -f SPEC | kubectl apply -f -`);
 * the renderer only names it, and the `as` pods mount it.
 */
import { POD_PATHS } from '../../agent/index.ts';
import type { MailPlatform } from '../../spec/index.ts';
import { meta, renderContext, type RenderContext } from './context.ts';
import type { KubeObject } from './objects.ts';

export const DKIM_COMPONENT = 'dkim';

export const dkimSecretName = (ctx: RenderContext): string => `${ctx.platform}-dkim`;

/** A Secret's data keys (Kubernetes' rule for them). */
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** The `<platform>-dkim` Secret holding `files` (file name → text), for `kubectl apply`. */
export function dkimSecret(doc: MailPlatform, files: Readonly<Record<string, string>>): KubeObject {
  const ctx = renderContext(doc);
  const bad = Object.keys(files).find((k) => !SECRET_KEY.test(k) || k === '.' || k === '..');
  if (bad !== undefined) throw new RangeError(`${JSON.stringify(bad)} cannot be a Secret key`);
  const data = Object.fromEntries(Object.keys(files).sort().map((k) => [k, Buffer.from(files[k] ?? '', 'utf8').toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta(ctx, dkimSecretName(ctx), DKIM_COMPONENT), type: 'Opaque', data };
}

/**
 * The Secret as a read-only directory at `POD_PATHS.dkim` (never `subPath`: kubelet then never updates it,
 * and a rotation must reach running pods). Optional: without the Secret the pods still start, and mail goes
 * out unsigned until it is applied. Files 0440: root and the pod's fsGroup.
 */
export function dkimVolume(ctx: RenderContext): { volume: object; mount: object } {
  return {
    volume: { name: 'dkim', secret: { secretName: dkimSecretName(ctx), optional: true, defaultMode: 0o440 } },
    mount: { name: 'dkim', mountPath: POD_PATHS.dkim, readOnly: true },
  };
}
