/**
 * The MailPlatform CustomResourceDefinition, generated from the same JSON schema that validates spec
 * files, turned into a Kubernetes structural schema: every node typed, no `additionalProperties: false`
 * (the API server prunes unknown fields instead), no `uniqueItems`, RE2-compatible patterns.
 */
import { PLATFORM_SCHEMA } from '../../spec/index.ts';
import type { KubeObject } from './objects.ts';

export const MAILPLATFORM_GROUP = 'mailfleet.io';
export const MAILPLATFORM_VERSION = 'v1alpha1';
export const MAILPLATFORM_PLURAL = 'mailplatforms';

type Schema = Record<string, unknown>;

/**
 * RE2 has no look-ahead: `(?=.{1,253}$)` becomes a length bound. Nor has it `\uFFFF` escapes (ajv's patterns are
 * Unicode JavaScript ones): each becomes `\x{FFFF}`.
 */
function re2Pattern(pattern: string, out: Schema): void {
  const unicode = pattern.replace(/\\u([0-9a-fA-F]{4})/g, '\\x{$1}');
  const lookahead = /^\^\(\?=\.\{(\d+),(\d+)\}\$\)/.exec(unicode);
  if (lookahead) {
    out.pattern = `^${unicode.slice(lookahead[0].length)}`;
    out.minLength = Number(lookahead[1]);
    out.maxLength = Number(lookahead[2]);
  } else {
    out.pattern = unicode;
  }
}

export function structuralSchema(node: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'additionalProperties':
      case 'uniqueItems':
        break;
      case 'const':
        out.type = typeof value;
        out.enum = [value];
        break;
      case 'pattern':
        re2Pattern(String(value), out);
        break;
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, structuralSchema(v)]));
        break;
      case 'items':
        out.items = structuralSchema(value as Schema);
        break;
      default:
        out[key] = value;
    }
  }
  if (out.type === undefined && Array.isArray(out.enum)) out.type = typeof out.enum[0];
  if (out.type === undefined && out.properties) out.type = 'object';
  return out;
}

const CONDITION_SCHEMA = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string' },
    message: { type: 'string' },
    observedGeneration: { type: 'integer' },
    lastTransitionTime: { type: 'string', format: 'date-time' },
  },
};

export const STATUS_SCHEMA = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer' },
    conditions: { type: 'array', items: CONDITION_SCHEMA, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
    objects: { type: 'integer', description: 'How many objects the last reconcile applied.' },
    pruned: { type: 'integer', description: 'How many objects it deleted because they are no longer rendered.' },
  },
};

export function mailPlatformCrd(): KubeObject {
  const specSchema = structuralSchema(PLATFORM_SCHEMA.properties.spec);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${MAILPLATFORM_PLURAL}.${MAILPLATFORM_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/part-of': 'mailfleet', 'app.kubernetes.io/managed-by': 'mailfleet' },
    },
    spec: {
      group: MAILPLATFORM_GROUP,
      scope: 'Namespaced',
      names: { kind: 'MailPlatform', listKind: 'MailPlatformList', plural: MAILPLATFORM_PLURAL, singular: 'mailplatform', shortNames: ['mp'] },
      versions: [{
        name: MAILPLATFORM_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
          { name: 'Mailboxes', type: 'integer', jsonPath: '.spec.roles.mailbox.replicas' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: 'A mail platform: Postfix, Dovecot director and backends, OpenLDAP and Redis from one spec.',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: specSchema,
              status: STATUS_SCHEMA,
            },
          },
        },
      }],
    },
  };
}
