/**
 * URL paths to what they name: a discovery document, or a resource with an optional namespace,
 * object name and subresource. Pure; unknown paths throw a 404 Status.
 */
import type { JsonObject } from './json-value.ts';
import type { Registry, ResourceType } from './registry.ts';
import { routeNotFound } from './status.ts';

export type Route =
  | { type: 'document'; body: JsonObject }
  | { type: 'text'; body: string }
  | {
      type: 'resource';
      rt: ResourceType;
      namespace: string | undefined;
      name: string | undefined;
      subresource: 'status' | undefined;
      /** The deprecated `/api/v1/watch/...` form. */
      legacyWatch: boolean;
    };

export const SERVER_VERSION: JsonObject = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.0-mailfleet-test',
  platform: 'linux/amd64',
};

function segmentsOf(pathname: string): string[] {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw routeNotFound();
  }
}

export function resolveRoute(registry: Registry, pathname: string, serverAddress: string): Route {
  const segments = segmentsOf(pathname);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  switch (segments[0]) {
    case 'api':
      if (segments.length === 1) return { type: 'document', body: registry.apiVersions(serverAddress) };
      [group, version, rest] = ['', segments[1], segments.slice(2)];
      break;
    case 'apis': {
      if (segments.length === 1) return { type: 'document', body: registry.apiGroupList() };
      const doc = registry.apiGroup(segments[1]!);
      if (!doc) throw routeNotFound();
      if (segments.length === 2) return { type: 'document', body: doc };
      [group, version, rest] = [segments[1]!, segments[2], segments.slice(3)];
      break;
    }
    case 'version':
      if (segments.length === 1) return { type: 'document', body: SERVER_VERSION };
      throw routeNotFound();
    case 'healthz':
    case 'livez':
    case 'readyz':
      return { type: 'text', body: 'ok' };
    default:
      throw routeNotFound();
  }
  if (rest.length === 0) {
    const doc = registry.apiResourceList(group, version ?? '');
    if (!doc) throw routeNotFound();
    return { type: 'document', body: doc };
  }
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && registry.byResource(group, version ?? '', rest[2]!)?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  const rt = registry.byResource(group, version ?? '', resource ?? '');
  if (!rt || extra.length > 0) throw routeNotFound();
  if (subresource !== undefined && !(subresource === 'status' && rt.statusSubresource)) throw routeNotFound();
  return { type: 'resource', rt, namespace, name, subresource: subresource === 'status' ? 'status' : undefined, legacyWatch };
}
