/** The small spec most generator tests start from: one domain, defaults everywhere else. */
import { parseSpec, type PlatformSpec } from '../../src/spec/index.ts';

/** `extra`: further lines of `spec:` in YAML, at the spec's own indentation (e.g. `kubernetes: { … }`). */
export function testSpec(extra = ''): PlatformSpec {
  const lines = extra.split('\n').filter((l) => l.trim() !== '').map((l) => `  ${l}`);
  return parseSpec([
    'apiVersion: mailfleet.io/v1alpha1',
    'kind: MailPlatform',
    'metadata: { name: demo }',
    'spec:',
    '  domains: [example.com]',
    '  hostname: mx.example.com',
    ...lines,
    '',
  ].join('\n')).spec;
}
