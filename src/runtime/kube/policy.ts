/**
 * The policy server in Kubernetes: a Deployment (`spec.policy.replicas`, spread like every stateless role) running
 * `mailfleet policy` on the rules of `spec.policy` (a ConfigMap; a change of rules rolls the pods), counting in the
 * `kvs` Redis with the password from the platform Secret (that key only), behind a ClusterIP Service `policy` that
 * the `mta` and `msa` ask (Kubernetes balances Postfix's persistent connections over the replicas), and the
 * proxies' Dovecot asks about logins on the auth-policy port (HTTP, with the credential from the Secret). Its
 * NetworkPolicy lets in only mta and msa on the policy port, the proxies on auth-policy and the scrapers on http,
 * and out only to Redis (and DNS, which every pod may reach).
 */
import { createHash } from 'node:crypto';
import { POD_PATHS } from '../../agent/index.ts';
import { podSecretKeys, POLICY_RULES_FILE, policyRulesFile, SECRET_KEYS } from '../../config/index.ts';
import { authPolicyRuns, policyRuns } from '../../spec/index.ts';
import { secretName } from './configs.ts';
import { meta, selector, serviceHost, type RenderContext } from './context.ts';
import { networkPolicy, SCRAPE } from './network.ts';
import { mailfleetDeployment } from './mailfleet-deployment.ts';
import type { Rendered } from './objects.ts';
import { scrapeAnnotations } from './scrape.ts';

export const POLICY = 'policy';
/** Where the rules ConfigMap is mounted. */
export const POLICY_RULES_DIR = '/etc/mailfleet/policy';
/** Pod annotation: the rules' digest, so that changed rules roll the Deployment (nothing sends its pods SIGHUP). */
export const POLICY_RULES_DIGEST_ANNOTATION = 'mailfleet.io/policy-rules-sha256';

export const policyRulesConfigMapName = (ctx: RenderContext): string => `${ctx.platform}-policy-rules`;

/** `mailfleet policy`'s flags: the rules file, Redis by its pod's stable name over TLS, the password file, its deadline. */
function policyArgs(ctx: RenderContext): string[] {
  const { spec, platform } = ctx;
  return [
    '--name', '$(POD_NAME)',
    '--rules', `${POLICY_RULES_DIR}/${POLICY_RULES_FILE}`,
    '--redis', `kvs-0.${serviceHost(ctx, 'kvs')}:${spec.ports.redis}`,
    '--redis-password-file', `${POD_PATHS.secrets}/${SECRET_KEYS.redisPassword}`,
    // The kvs serves TLS only, with a certificate of the CA derived from the password (config/redis.ts).
    '--redis-tls', 'platform',
    '--platform', platform,
    '--deadline-ms', String(spec.policy.deadlineMs),
    '--listen', `0.0.0.0:${spec.ports.policy}`,
    // HTTPS for the name the proxies dial (kubePeers: the Service).
    ...(authPolicyRuns(spec)
      ? ['--auth-listen', `0.0.0.0:${spec.ports.authPolicy}`, '--auth-key-file', `${POD_PATHS.secrets}/${SECRET_KEYS.authPolicyApiKey}`, '--auth-tls-name', serviceHost(ctx, 'policy')]
      : []),
    '--metrics', `0.0.0.0:${spec.ports.http}`,
  ];
}

export function renderPolicy(ctx: RenderContext): Rendered[] {
  if (!policyRuns(ctx.spec)) return [];
  const name = `${ctx.platform}-${POLICY}`;
  const { ports } = ctx.spec;
  const auth = authPolicyRuns(ctx.spec);
  const rules = policyRulesFile(ctx.spec);
  const podAnnotations = { ...scrapeAnnotations(ctx), [POLICY_RULES_DIGEST_ANNOTATION]: createHash('sha256').update(rules).digest('hex') };
  const out: Rendered[] = [
    { object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ctx, name, POLICY), automountServiceAccountToken: false } },
    { object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(ctx, policyRulesConfigMapName(ctx), POLICY), data: { [POLICY_RULES_FILE]: rules } } },
    {
      comment: `The policy server: mta and msa ask it (check_policy_service, policy_context=<role>) at the stages its rules count at${auth ? ',\nthe proxies\' Dovecot about every login (auth_policy_server_url, port auth-policy)' : ''};\nit counts in Redis (kvs-0), answers ${ctx.spec.policy.defaultAction} when Redis cannot answer within ${ctx.spec.policy.deadlineMs} ms, and Postfix lets mail through\nwhen it cannot be reached. mailfleet_policy_* metrics on its http port.`,
      object: mailfleetDeployment(ctx, {
        name: POLICY,
        serviceAccount: name,
        component: POLICY,
        replicas: ctx.spec.policy.replicas,
        command: 'policy',
        args: policyArgs(ctx),
        ports: [
          { name: 'policy', containerPort: ports.policy },
          ...(auth ? [{ name: 'auth-policy', containerPort: ports.authPolicy }] : []),
          { name: 'http', containerPort: ports.http },
        ],
        resources: ctx.spec.kubernetes.resources.policy,
        readinessPeriodSeconds: 5,
        probeTimeoutSeconds: 3,
        apiToken: false,
        annotations: podAnnotations,
        volumeMounts: [
          { name: 'rules', mountPath: POLICY_RULES_DIR, readOnly: true },
          { name: 'secrets', mountPath: POD_PATHS.secrets, readOnly: true },
        ],
        volumes: [
          { name: 'rules', configMap: { name: policyRulesConfigMapName(ctx) } },
          // The Redis password and the auth policy's credential only: nothing else of the platform Secret.
          { name: 'secrets', secret: { secretName: secretName(ctx), items: podSecretKeys('policy', ctx.spec).map((key) => ({ key, path: key })), defaultMode: 0o440 } },
        ],
      }),
    },
    {
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta(ctx, POLICY, POLICY),
        spec: {
          type: 'ClusterIP',
          selector: selector(ctx, POLICY),
          ports: [
            { name: 'policy', port: ports.policy, targetPort: 'policy', protocol: 'TCP' },
            ...(auth ? [{ name: 'auth-policy', port: ports.authPolicy, targetPort: 'auth-policy', protocol: 'TCP' }] : []),
          ],
        },
      },
    },
    {
      object: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: meta(ctx, POLICY, POLICY),
        spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx, POLICY) } },
      },
    },
  ];
  if (ctx.spec.kubernetes.networkPolicies) {
    const askers = [{ component: 'mta' }, { component: 'msa' }];
    const logins = auth ? [{ peers: [{ component: 'proxy' }], ports: ['auth-policy'] }] : [];
    out.push(networkPolicy(ctx, POLICY, [{ peers: askers, ports: ['policy'] }, ...logins, SCRAPE], [{ peers: [{ component: 'kvs' }], ports: ['redis'] }]));
  }
  return out;
}
