/**
 * The platform Secret under the operator. A spec that gives every platform secret (and names no
 * existing Secret) has its Secret rendered and applied like any object. Otherwise the Secret is not
 * rendered: it is `spec.kubernetes.existingSecret`, or `<platform>-secrets`, and the operator creates it
 * when it does not exist, with strong random values (the spec's own where it gives some) and the demo
 * accounts' passwords. It is created once (POST, never applied): later reconciles read it and never
 * regenerate it, prune never deletes it (the operator did not apply it), and it stays when the
 * MailPlatform is deleted, with the mail data it goes with. In a Secret it created, keys added to the
 * spec later (a new account entry) are added; values are never changed. A Secret someone else made is
 * only read.
 */
import type { Logger } from '../../../log.ts';
import { missingSecrets, type MailPlatform } from '../../../spec/index.ts';
import { LDAP_TLS_CA_KEY, ldapCaSecretValue, platformSecretKeys, SECRET_KEYS } from '../../../config/index.ts';
import { generatedSecretValues, secretName } from '../configs.ts';
import { labels, renderContext } from '../context.ts';
import type { KubeObject } from '../objects.ts';
import { KubeApiError, type KubeApi } from './api.ts';
import { serverMeta, type ObjectRef } from './kinds.ts';
import { FIELD_MANAGER, OWNER_ANNOTATION } from './plan.ts';

/** On a Secret the operator created: who generated it. */
export const GENERATED_ANNOTATION = 'mailfleet.io/generated-by';

export interface PlatformSecretPlan {
  /** What to render: with `existingSecret` naming the Secret when it is not rendered. */
  doc: MailPlatform;
  /** The Secret kept outside the render, which prune must leave alone; undefined when it is rendered. */
  external?: ObjectRef;
}

/** Whether the platform Secret is rendered from the spec or kept outside the render (and which). */
export function platformSecretPlan(doc: MailPlatform): PlatformSecretPlan {
  const ctx = renderContext(doc);
  const { kubernetes } = doc.spec;
  if (kubernetes.existingSecret === '' && missingSecrets(doc.spec).length === 0) return { doc };
  const name = secretName(ctx);
  const renderDoc = kubernetes.existingSecret === '' ? { ...doc, spec: { ...doc.spec, kubernetes: { ...kubernetes, existingSecret: name } } } : doc;
  return { doc: renderDoc, external: { apiVersion: 'v1', kind: 'Secret', namespace: ctx.namespace, name } };
}

const base64 = (values: Record<string, string>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));

/**
 * Creates the platform Secret when absent; adds keys the spec needs now to one the operator created.
 * Returns what it did, for the log.
 */
export async function ensurePlatformSecret(api: KubeApi, doc: MailPlatform, ref: ObjectRef, owner: string, log: Logger): Promise<'created' | 'completed' | 'present'> {
  const current = await api.get(ref);
  if (!current) {
    const ctx = renderContext(doc);
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: ref.name,
        namespace: ref.namespace,
        labels: labels(ctx, 'config'),
        annotations: { [OWNER_ANNOTATION]: owner, [GENERATED_ANNOTATION]: FIELD_MANAGER },
      },
      type: 'Opaque',
      data: base64(generatedSecretValues(doc.spec)),
    };
    try {
      await api.create(secret, { manager: FIELD_MANAGER });
    } catch (err) {
      // Created meanwhile (another reconcile, a person): theirs stands; the next run reads it.
      if (err instanceof KubeApiError && err.status === 409) return 'present';
      throw err;
    }
    log.info({ platform: owner, secret: `${ref.namespace}/${ref.name}` }, 'platform secret created');
    return 'created';
  }
  if (current.metadata.annotations?.[GENERATED_ANNOTATION] !== FIELD_MANAGER) return 'present';
  const data = (current.data ?? {}) as Record<string, string>;
  const lacking = platformSecretKeys(doc.spec).filter((k) => data[k] === undefined);
  if (lacking.length === 0) return 'present';
  const fresh = generatedSecretValues(doc.spec);
  const added = Object.fromEntries(lacking.map((k) => [k, fresh[k] ?? '']));
  // The LDAP clients' CA goes with slapd's key as the Secret holds it (or as added now), never with a fresh one.
  if (added[LDAP_TLS_CA_KEY] !== undefined) {
    const held = data[SECRET_KEYS.ldapTlsKey];
    const key = added[SECRET_KEYS.ldapTlsKey] ?? (held === undefined ? undefined : Buffer.from(held, 'base64').toString('utf8').replace(/\r?\n$/, ''));
    if (key !== undefined) added[LDAP_TLS_CA_KEY] = ldapCaSecretValue(key);
  }
  await api.mergePatch(ref, { metadata: { resourceVersion: serverMeta(current).resourceVersion }, data: base64(added) }, { manager: FIELD_MANAGER });
  log.info({ platform: owner, secret: `${ref.namespace}/${ref.name}`, added: lacking }, 'platform secret completed');
  return 'completed';
}
