/**
 * Defaults of the spec that stand in for a value only the cluster's owner knows: a registry under `.test`, which
 * never resolves, outbound pools in the documentation ranges, an alert receiver that is an example. A platform
 * rendered with them renders fine and then does not work (images fail to pull, mail leaves from addresses that
 * route nowhere, alerts go nowhere), so `mailfleet render` names each on stderr; stdout stays the YAML. So are
 * demo accounts, whose passwords anyone who read the spec knows.
 */
import { EXAMPLE_ALERT_WEBHOOK_URL, type MailPlatform } from '../../spec/index.ts';

/** The ranges RFC 5737 sets aside for documentation: never a host's real address. */
const DOCUMENTATION_V4 = ['192.0.2.', '198.51.100.', '203.0.113.'];
/** Names reserved for tests and examples (RFC 2606, RFC 6761): never anyone's registry, receiver or mail host. */
const RESERVED_TLD = /(\.(test|example|invalid|localhost)|(^|\.)example\.(com|net|org))(?=[:/]|$)/;

function reservedHost(text: string): boolean {
  const host = text.replace(/^https?:\/\//, '').split('/')[0] ?? '';
  return RESERVED_TLD.test(host);
}

/** One line per placeholder left in `doc`, naming the field, its value and what happens if it stays. */
export function placeholderWarnings(doc: MailPlatform): string[] {
  const { spec } = doc;
  const warnings: string[] = [];
  const { registry } = spec.kubernetes.images;
  if (reservedHost(registry)) {
    warnings.push(`spec.kubernetes.images.registry: ${registry} is a placeholder that never resolves; every mailfleet image would fail to pull: name your registry`);
  }
  for (const pool of ['mailout', 'fallback'] as const) {
    const { replicas, ipv4Cidr } = spec.outbound[pool];
    if (replicas > 0 && DOCUMENTATION_V4.some((prefix) => ipv4Cidr.startsWith(prefix))) {
      warnings.push(`spec.outbound.${pool}.ipv4Cidr: ${ipv4Cidr} is a documentation range (RFC 5737); mail to the Internet would leave from addresses that route nowhere: give the pool's public range`);
    }
  }
  if (reservedHost(spec.kubernetes.alertWebhookUrl) || spec.kubernetes.alertWebhookUrl === EXAMPLE_ALERT_WEBHOOK_URL) {
    warnings.push(`spec.kubernetes.alertWebhookUrl: ${spec.kubernetes.alertWebhookUrl} is the example receiver; alerts go nowhere until it names yours`);
  }
  const seeded = spec.accounts.seed.length + spec.accounts.generate.reduce((n, g) => n + g.count, 0);
  if (seeded > 0) {
    const first = spec.accounts.seed[0]?.address ?? `${spec.accounts.generate[0]?.prefix ?? ''}1@${spec.accounts.generate[0]?.domain ?? ''}`;
    warnings.push(`spec.accounts: ${seeded} demo account${seeded === 1 ? '' : 's'} (${first}${seeded > 1 ? ', …' : ''}) with passwords written in the spec, readable by whoever reads it, and applied as a MailPlatform, in the object and its last-applied annotation: anyone can log in as them over IMAP and POP3 and send as them; leave spec.accounts.seed and generate empty before the platform faces the Internet`);
  }
  if (reservedHost(spec.hostname)) {
    warnings.push(`spec.hostname: ${spec.hostname} is a placeholder; it is the name the MTAs greet with and the certificate's: give the platform's mail host name`);
  }
  return warnings;
}
