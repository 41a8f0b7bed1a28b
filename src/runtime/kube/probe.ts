/**
 * The prober in Kubernetes: a one-replica Deployment running `mailfleet probe` against the platform's own
 * Services (the names users reach: submission, MX, IMAP and POP3 access), as the probe account, whose
 * password it reads from the platform Secret. It needs no Kubernetes API: its ServiceAccount mounts no
 * token, and its NetworkPolicy lets it reach the probed ports and DNS only.
 */
import { POD_PATHS } from '../../agent/index.ts';
import { SECRET_KEYS } from '../../config/index.ts';
import { probePaths, probeRuns } from '../../spec/index.ts';
import { secretName } from './configs.ts';
import { meta, serviceHost, type RenderContext } from './context.ts';
import { networkPolicy, SCRAPE, type Flow } from './network.ts';
import { mailfleetDeployment } from './mailfleet-deployment.ts';
import type { Rendered } from './objects.ts';
import { scrapeAnnotations } from './scrape.ts';

export const PROBE = 'probe';
/** Where the CA bundle of `spec.probe.caBundle` is mounted. */
export const PROBE_CA_DIR = '/etc/mailfleet/probe-ca';

/** `mailfleet probe`'s flags: every endpoint by Service name, the account, its password file, the CA, the pace. */
function probeArgs(ctx: RenderContext): string[] {
  const { spec, platform } = ctx;
  const { ports, probe } = spec;
  const paths = probePaths(spec);
  const at = (service: string, port: number) => `${serviceHost(ctx, `${platform}-${service}`)}:${port}`;
  return [
    '--name', '$(POD_NAME)',
    ...(paths.includes('msa') ? ['--msa', at('submission', ports.submissions)] : []),
    ...(paths.includes('mta') ? ['--mta', at('mx', ports.smtp)] : []),
    '--imap', at('access', ports.imaps),
    '--pop3', at('access', ports.pop3s),
    '--account', probe.address,
    '--password-file', `${POD_PATHS.secrets}/${SECRET_KEYS.probePassword}`,
    ...(probe.caBundle ? ['--ca-file', `${PROBE_CA_DIR}/${probe.caBundle.key}`] : []),
    // The default certificate's first name: what the Services' addresses are reached as.
    '--servername', spec.tls.certificates[0]?.hosts[0] ?? spec.hostname,
    '--interval', String(probe.intervalSeconds),
    '--timeout', String(probe.timeoutSeconds),
    '--listen', `0.0.0.0:${ports.http}`,
  ];
}

function caVolume(ctx: RenderContext): object[] {
  const bundle = ctx.spec.probe.caBundle;
  if (bundle === undefined) return [];
  const items = [{ key: bundle.key, path: bundle.key }];
  return [bundle.secret !== undefined
    ? { name: 'ca', secret: { secretName: bundle.secret, items, defaultMode: 0o444 } }
    : { name: 'ca', configMap: { name: bundle.configMap, items, defaultMode: 0o444 } }];
}

export function renderProbe(ctx: RenderContext): Rendered[] {
  if (!probeRuns(ctx.spec)) return [];
  const name = `${ctx.platform}-${PROBE}`;
  const { ports } = ctx.spec;
  const podAnnotations = scrapeAnnotations(ctx);
  const ca = caVolume(ctx);
  const out: Rendered[] = [
    { object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ctx, name, PROBE), automountServiceAccountToken: false } },
    {
      comment: `The prober: every ${ctx.spec.probe.intervalSeconds} s one message through the ${probePaths(ctx.spec).join(' and one through the ')}, read back over\nIMAPS and POP3S through the proxies and deleted; mailfleet_probe_* metrics on its http port.`,
      object: mailfleetDeployment(ctx, {
        name: PROBE,
        serviceAccount: name,
        component: PROBE,
        // Two probers for a moment during a rollout do no harm: each finds its own messages, and only stale ones are removed.
        replicas: 1,
        command: 'probe',
        args: probeArgs(ctx),
        ports: [{ name: 'http', containerPort: ports.http }],
        resources: ctx.spec.kubernetes.resources.probe,
        readinessPeriodSeconds: 10,
        probeTimeoutSeconds: 3,
        apiToken: false,
        annotations: podAnnotations,
        volumeMounts: [
          { name: 'secrets', mountPath: POD_PATHS.secrets, readOnly: true },
          ...(ca.length > 0 ? [{ name: 'ca', mountPath: PROBE_CA_DIR, readOnly: true }] : []),
        ],
        volumes: [
          // The probe account's password only: nothing else of the platform Secret.
          { name: 'secrets', secret: { secretName: secretName(ctx), items: [{ key: SECRET_KEYS.probePassword, path: SECRET_KEYS.probePassword }], defaultMode: 0o440 } },
          ...ca,
        ],
      }),
    },
  ];
  if (ctx.spec.kubernetes.networkPolicies) {
    const paths = probePaths(ctx.spec);
    const egress: Flow[] = [
      ...(paths.includes('msa') ? [{ peers: [{ component: 'msa' }], ports: ['submissions'] }] : []),
      ...(paths.includes('mta') ? [{ peers: [{ component: 'mta' }], ports: ['smtp'] }] : []),
      { peers: [{ component: 'proxy' }], ports: ['imaps', 'pop3s'] },
    ];
    out.push(networkPolicy(ctx, PROBE, [SCRAPE], egress));
  }
  return out;
}
