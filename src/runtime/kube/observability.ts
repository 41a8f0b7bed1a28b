/**
 * The metrics and logs stack of the platform: VictoriaMetrics (single node) with vmalert and
 * Alertmanager posting to a webhook, Loki on S3-compatible storage fed by promtail, and the
 * ConfigMaps the mail alert rules and Grafana dashboards are mounted from.
 */
import {
  ALERTMANAGER_CONFIG_FILE, ALERTMANAGER_USER, ALERTMANAGER_WEB_CONFIG_FILE, alertmanagerConfig, ENV_FLAGS_FLAG, envFlagName, hostPort, LOKI_CONFIG_FILE, LOKI_DATA_DIR, LOKI_EXPAND_ENV_FLAG, LOKI_GRPC_PORT, LOKI_HTTP_PORT, LOKI_LOOPBACK_HTTP_PORT, LOKI_S3_ENV,
  LOKI_S3_SECRET_KEYS, lokiConfig, POD_LOG_DIR, PROMTAIL_CONFIG_FILE, PROMTAIL_HTTP_PORT, PROMTAIL_NODE_ENV, promtailConfig,
  SCRAPE_CONFIG_FILE, scrapeConfig, SECRET_KEYS, VICTORIAMETRICS_ADMIN_FLAGS, VMALERT_ADMIN_FLAGS,
} from '../../config/index.ts';
import { dashboardFiles } from '../../dashboards/index.ts';
import { alertRuleFiles } from '../../observability/index.ts';
import type { PlatformSpec } from '../../spec/index.ts';
import { secretName } from './configs.ts';
import { image, type RenderContext } from './context.ts';
import { KUBE_API, networkPolicy, urlPeer, type Flow } from './network.ts';
import type { Rendered } from './objects.ts';
import { RUNTIME_DEFAULT_SECCOMP } from './pods.ts';
import { configMap, container, daemonSet, deployment, disruptionBudget, LOCKED_DOWN, NON_ROOT, service, serviceAccountWithRole, statefulSet } from './workload.ts';

/** Pod discovery in the platform namespace (VictoriaMetrics' and promtail's kubernetes_sd). */
const POD_READER = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }];
const VM_PORT = 8428;
const VMALERT_PORT = 8880;
const ALERTMANAGER_PORT = 9093;
/** The uid the upstream images run as. */
const NOBODY = 65534;
const LOKI_UID = 10001;

export const rulesConfigMap = (ctx: RenderContext): string => `${ctx.platform}-alert-rules`;
export const dashboardsConfigMap = (ctx: RenderContext): string => `${ctx.platform}-grafana-dashboards`;

/** The metrics admin key in each variable that sets one of `flags` (see config/metrics-admin.ts), from the platform Secret. */
const adminKeyEnv = (ctx: RenderContext, flags: readonly string[]) =>
  flags.map((f) => ({ name: envFlagName(f), valueFrom: { secretKeyRef: { name: secretName(ctx), key: SECRET_KEYS.metricsAdminKey } } }));

/** Where the metrics admin key is mounted (only that key of the Secret), for vmalert and Alertmanager's init container. */
const ADMIN_KEY_DIR = '/etc/mailfleet/secrets';
const adminKeyVolume = (ctx: RenderContext) => ({
  name: 'admin-key',
  secret: { secretName: secretName(ctx), items: [{ key: SECRET_KEYS.metricsAdminKey, path: SECRET_KEYS.metricsAdminKey }], defaultMode: 0o440 },
});
const ADMIN_KEY_MOUNT = { name: 'admin-key', mountPath: ADMIN_KEY_DIR, readOnly: true };
const ADMIN_KEY_FILE = `${ADMIN_KEY_DIR}/${SECRET_KEYS.metricsAdminKey}`;
/** The logs gateway beside Loki: a stream relay, light. */
const LOGS_GATEWAY_RESOURCES = { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: '500m', memory: '160Mi' } };
/** Alertmanager's web config (basic auth), written at pod start by its init container into a volume of that pod only. */
const ALERTMANAGER_WEB_DIR = '/run/alertmanager-web';

const httpProbe = (path: string, port: string) => ({
  readinessProbe: { httpGet: { path, port }, periodSeconds: 10 },
  livenessProbe: { httpGet: { path, port }, periodSeconds: 20, failureThreshold: 3 },
});

function victoriaMetrics(ctx: RenderContext): Rendered[] {
  const k = ctx.spec.kubernetes;
  const discovers = k.scrape === 'annotations';
  const name = 'victoriametrics';
  const out: Rendered[] = [];
  if (discovers) {
    out.push(
      { object: configMap(ctx, `${ctx.platform}-scrape`, name, scrapeConfig(ctx.spec, 'kubernetes')) },
      ...serviceAccountWithRole(ctx, name, name, POD_READER),
    );
  }
  out.push(
    {
      object: statefulSet(ctx, name, {
        component: name,
        ...(discovers ? { serviceAccountName: name } : {}),
        securityContext: NON_ROOT(NOBODY),
        containers: [container({
          name,
          image: k.thirdPartyImages.victoriametrics,
          args: [
            '-storageDataPath=/storage',
            '-retentionPeriod=30d',
            `-httpListenAddr=:${VM_PORT}`,
            ...(discovers ? [`-promscrape.config=/etc/victoriametrics/${SCRAPE_CONFIG_FILE}`, '-promscrape.config.strictParse'] : []),
            ENV_FLAGS_FLAG,
          ],
          env: adminKeyEnv(ctx, VICTORIAMETRICS_ADMIN_FLAGS),
          ports: [{ name: 'http', containerPort: VM_PORT }],
          resources: k.resources.victoriametrics,
          securityContext: LOCKED_DOWN,
          ...httpProbe('/health', 'http'),
          volumeMounts: [{ name: 'storage', mountPath: '/storage' }, ...(discovers ? [{ name: 'scrape', mountPath: '/etc/victoriametrics', readOnly: true }] : [])],
        })],
        volumes: discovers ? [{ name: 'scrape', configMap: { name: `${ctx.platform}-scrape` } }] : [],
      }, { storageClass: k.storageClasses.metrics, size: k.storageSizes.metrics, mountName: 'storage' }),
    },
    { object: service(ctx, name, name, [{ name: 'http', port: VM_PORT }]) },
  );
  return out;
}

function alerting(ctx: RenderContext): Rendered[] {
  const k = ctx.spec.kubernetes;
  return [
    { object: configMap(ctx, rulesConfigMap(ctx), 'vmalert', alertRuleFiles(ctx.spec, { namespace: ctx.namespace })) },
    {
      object: deployment(ctx, 'vmalert', 1, {
        component: 'vmalert',
        securityContext: NON_ROOT(NOBODY),
        containers: [container({
          name: 'vmalert',
          image: k.thirdPartyImages.vmalert,
          args: [
            '-rule=/etc/vmalert/rules/*.yaml',
            `-datasource.url=http://victoriametrics:${VM_PORT}`,
            `-remoteRead.url=http://victoriametrics:${VM_PORT}`,
            `-remoteWrite.url=http://victoriametrics:${VM_PORT}`,
            `-notifier.url=http://alertmanager:${ALERTMANAGER_PORT}`,
            `-notifier.basicAuth.username=${ALERTMANAGER_USER}`,
            `-notifier.basicAuth.passwordFile=${ADMIN_KEY_FILE}`,
            `-httpListenAddr=:${VMALERT_PORT}`,
            `-evaluationInterval=${ctx.spec.alerting.evaluationSeconds}s`,
            ENV_FLAGS_FLAG,
          ],
          env: adminKeyEnv(ctx, VMALERT_ADMIN_FLAGS),
          ports: [{ name: 'http', containerPort: VMALERT_PORT }],
          resources: k.resources.vmalert,
          securityContext: LOCKED_DOWN,
          ...httpProbe('/health', 'http'),
          volumeMounts: [{ name: 'rules', mountPath: '/etc/vmalert/rules', readOnly: true }, ADMIN_KEY_MOUNT],
        })],
        volumes: [{ name: 'rules', configMap: { name: rulesConfigMap(ctx) } }, adminKeyVolume(ctx)],
      }),
    },
    { object: service(ctx, 'vmalert', 'vmalert', [{ name: 'http', port: VMALERT_PORT }]) },
    { object: configMap(ctx, 'alertmanager', 'alertmanager', alertmanagerConfig(ctx.spec)) },
    {
      object: statefulSet(ctx, 'alertmanager', {
        component: 'alertmanager',
        securityContext: NON_ROOT(NOBODY),
        containers: [container({
          name: 'alertmanager',
          image: k.thirdPartyImages.alertmanager,
          args: [
            `--config.file=/etc/alertmanager/${ALERTMANAGER_CONFIG_FILE}`,
            '--storage.path=/alertmanager',
            '--cluster.listen-address=',
            `--web.listen-address=:${ALERTMANAGER_PORT}`,
            `--web.config.file=${ALERTMANAGER_WEB_DIR}/${ALERTMANAGER_WEB_CONFIG_FILE}`,
          ],
          ports: [{ name: 'http', containerPort: ALERTMANAGER_PORT }],
          resources: k.resources.alertmanager,
          securityContext: LOCKED_DOWN,
          // Every path asks for the password, /-/ready too, and a probe has no way to send a secret: the port answering is the check.
          readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 10 },
          livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20, failureThreshold: 3 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/alertmanager', readOnly: true },
            { name: 'data', mountPath: '/alertmanager' },
            { name: 'web', mountPath: ALERTMANAGER_WEB_DIR, readOnly: true },
          ],
        })],
        volumes: [{ name: 'config', configMap: { name: 'alertmanager' } }, adminKeyVolume(ctx), { name: 'web', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
        extra: {
          initContainers: [container({
            name: 'web-config',
            image: image(ctx, 'mailfleet'),
            imagePullPolicy: k.images.pullPolicy,
            command: ['mailfleet', 'render', 'alertmanager-web'],
            args: ['--password-file', ADMIN_KEY_FILE, '-o', `${ALERTMANAGER_WEB_DIR}/${ALERTMANAGER_WEB_CONFIG_FILE}`],
            ports: [],
            resources: k.resources.alertmanager,
            securityContext: LOCKED_DOWN,
            volumeMounts: [ADMIN_KEY_MOUNT, { name: 'web', mountPath: ALERTMANAGER_WEB_DIR }],
          })],
        },
      }, { storageClass: k.storageClasses.metrics, size: '1Gi', mountName: 'data' }),
    },
    { object: service(ctx, 'alertmanager', 'alertmanager', [{ name: 'http', port: ALERTMANAGER_PORT }]) },
    {
      comment: 'Grafana dashboards of the platform, for a Grafana sidecar that loads ConfigMaps labelled grafana_dashboard; they ask for a Prometheus data source in their datasource variable.',
      object: configMap(ctx, dashboardsConfigMap(ctx), 'grafana', dashboardFiles(), undefined, { grafana_dashboard: '1' }),
    },
  ];
}

/** What `render` says on stderr about the one Secret the platform needs and nothing renders: Loki's S3 credentials. */
export function logsSecretNote(spec: PlatformSpec): string {
  const { namespace, logs } = spec.kubernetes;
  return `spec.kubernetes.logs.credentialsSecret: Loki stores its chunks at ${logs.s3Endpoint} (bucket ${logs.bucket}) with the keys of Secret ${logs.credentialsSecret}, which you create: kubectl -n ${namespace} create secret generic ${logs.credentialsSecret} --from-literal=${LOKI_S3_SECRET_KEYS.accessKeyId}=… --from-literal=${LOKI_S3_SECRET_KEYS.secretAccessKey}=…`;
}

function logs(ctx: RenderContext): Rendered[] {
  const k = ctx.spec.kubernetes;
  const s3Env = (env: string, key: string) => ({ name: env, valueFrom: { secretKeyRef: { name: k.logs.credentialsSecret, key } } });
  return [
    { object: configMap(ctx, 'loki', 'loki', lokiConfig(ctx.spec)) },
    {
      comment: `Loki's object store credentials come from Secret ${k.logs.credentialsSecret} (keys ${LOKI_S3_SECRET_KEYS.accessKeyId}, ${LOKI_S3_SECRET_KEYS.secretAccessKey}); create it yourself.`,
      object: statefulSet(ctx, 'loki', {
        component: 'loki',
        securityContext: NON_ROOT(LOKI_UID),
        containers: [container({
          name: 'loki',
          image: k.thirdPartyImages.loki,
          args: [`-config.file=/etc/loki/${LOKI_CONFIG_FILE}`, LOKI_EXPAND_ENV_FLAG],
          env: [s3Env(LOKI_S3_ENV.accessKeyId, LOKI_S3_SECRET_KEYS.accessKeyId), s3Env(LOKI_S3_ENV.secretAccessKey, LOKI_S3_SECRET_KEYS.secretAccessKey)],
          // Its HTTP is on the pod's loopback, out of a probe's reach: its gRPC port answering is the liveness check, its readiness is the gateway's /ready.
          ports: [{ name: 'grpc', containerPort: LOKI_GRPC_PORT }],
          resources: k.resources.loki,
          securityContext: LOCKED_DOWN,
          livenessProbe: { tcpSocket: { port: 'grpc' }, periodSeconds: 20, failureThreshold: 3 },
          volumeMounts: [{ name: 'config', mountPath: '/etc/loki', readOnly: true }, { name: 'data', mountPath: LOKI_DATA_DIR }],
        }), container({
          name: 'gateway',
          image: image(ctx, 'mailfleet'),
          imagePullPolicy: k.images.pullPolicy,
          command: ['mailfleet', 'logs-gateway'],
          args: ['--listen', `0.0.0.0:${LOKI_HTTP_PORT}`, '--upstream', `127.0.0.1:${LOKI_LOOPBACK_HTTP_PORT}`],
          ports: [{ name: 'http', containerPort: LOKI_HTTP_PORT }],
          resources: LOGS_GATEWAY_RESOURCES,
          securityContext: LOCKED_DOWN,
          // /ready is Loki's, through the gateway; /livez the gateway's own.
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 10 },
          livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 20, failureThreshold: 3 },
        })],
        volumes: [{ name: 'config', configMap: { name: 'loki' } }],
      }, { storageClass: k.storageClasses.logs, size: k.storageSizes.logs, mountName: 'data' }),
    },
    { object: service(ctx, 'loki', 'loki', [{ name: 'http', port: LOKI_HTTP_PORT }]) },
    { object: configMap(ctx, 'promtail', 'promtail', promtailConfig(ctx.spec)) },
    ...serviceAccountWithRole(ctx, 'promtail', 'promtail', POD_READER),
    {
      comment: 'promtail reads the node\'s pod log files, which only root may: it runs as root, read-only, with no capabilities.',
      object: daemonSet(ctx, 'promtail', {
        component: 'promtail',
        serviceAccountName: 'promtail',
        containers: [container({
          name: 'promtail',
          image: k.thirdPartyImages.promtail,
          args: [`-config.file=/etc/promtail/${PROMTAIL_CONFIG_FILE}`],
          env: [{ name: PROMTAIL_NODE_ENV, valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          ports: [{ name: 'http', containerPort: PROMTAIL_HTTP_PORT }],
          resources: k.resources.promtail,
          securityContext: { ...LOCKED_DOWN, runAsUser: 0, seccompProfile: RUNTIME_DEFAULT_SECCOMP },
          ...httpProbe('/ready', 'http'),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/promtail', readOnly: true },
            { name: 'pods', mountPath: POD_LOG_DIR, readOnly: true },
            { name: 'positions', mountPath: '/run/promtail' },
          ],
        })],
        volumes: [
          { name: 'config', configMap: { name: 'promtail' } },
          { name: 'pods', hostPath: { path: POD_LOG_DIR, type: 'Directory' } },
          { name: 'positions', hostPath: { path: `/var/lib/mailfleet-promtail/${ctx.platform}`, type: 'DirectoryOrCreate' } },
        ],
        extra: { tolerations: [{ operator: 'Exists' }] },
      }),
    },
  ];
}

/**
 * VictoriaMetrics' way to the cluster's exporters it scrapes (`spec.kubernetes.clusterMetrics`): kube-state-metrics
 * in its Service's namespace; node exporters there and on the node networks (they usually run on the host's).
 */
function clusterExporterFlows(ctx: RenderContext): Flow[] {
  const { kubeStateMetrics, nodeExporter } = ctx.spec.kubernetes.clusterMetrics;
  const flow = (target: string, extra: Flow['peers']): Flow => {
    const { host, port } = hostPort(target);
    return { peers: [urlPeer(new URL(`http://${host}`)), ...extra], ports: [port] };
  };
  return [
    ...(kubeStateMetrics === '' ? [] : [flow(kubeStateMetrics, [])]),
    ...(nodeExporter === '' ? [] : [flow(nodeExporter, [{ cidrs: ctx.spec.kubernetes.nodeNetworks }])]),
  ];
}

function policies(ctx: RenderContext): Rendered[] {
  if (!ctx.spec.kubernetes.networkPolicies) return [];
  const monitoring: Flow = { peers: [{ monitoring: true }], ports: ['http'] };
  const { watchdogWebhookUrl } = ctx.spec.alerting;
  const receivers = [ctx.spec.kubernetes.alertWebhookUrl, ...(watchdogWebhookUrl === undefined ? [] : [watchdogWebhookUrl])].map((url) => new URL(url));
  const s3 = new URL(ctx.spec.kubernetes.logs.s3Endpoint);
  const portOf = (u: URL) => Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const allPods: Flow = { peers: [{ platform: true }], ports: ['http'] };
  return [
    networkPolicy(ctx, 'victoriametrics', [{ peers: [{ component: 'vmalert' }], ports: ['http'] }, monitoring], [allPods, KUBE_API, ...clusterExporterFlows(ctx)]),
    networkPolicy(ctx, 'vmalert', [{ peers: [{ component: 'victoriametrics' }], ports: ['http'] }, monitoring], [{ peers: [{ component: 'victoriametrics' }, { component: 'alertmanager' }], ports: ['http'] }]),
    networkPolicy(ctx, 'alertmanager', [{ peers: [{ component: 'vmalert' }, { component: 'victoriametrics' }], ports: ['http'] }, monitoring], receivers.map((u) => ({ peers: [urlPeer(u)], ports: [portOf(u)] }))),
    networkPolicy(ctx, 'loki', [{ peers: [{ component: 'promtail' }, { component: 'victoriametrics' }], ports: ['http'] }, monitoring], [{ peers: [urlPeer(s3)], ports: [portOf(s3)] }]),
    networkPolicy(ctx, 'promtail', [{ peers: [{ component: 'victoriametrics' }], ports: ['http'] }, monitoring], [{ peers: [{ component: 'loki' }], ports: ['http'] }, KUBE_API]),
  ];
}

export function renderObservability(ctx: RenderContext): Rendered[] {
  return [
    ...victoriaMetrics(ctx),
    ...alerting(ctx),
    ...logs(ctx),
    { object: disruptionBudget(ctx, 'victoriametrics', 'victoriametrics') },
    ...policies(ctx),
  ];
}
