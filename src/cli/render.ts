import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRenderedFileName, mailPlatformCrd, placeholderWarnings, renderFiles, renderPlatformDocuments, sortObjects, toYaml, unsafeSysctlsNote, logsSecretNote } from '../runtime/kube/index.ts';
import { DEFAULT_WATCH_NAMESPACE, renderOperatorInstall } from '../runtime/kube/operator/index.ts';
import { loadSpecFile } from '../spec/index.ts';
import { parse, usageError } from './args.ts';
import { allowedClusterIssuers, allowedRegistries } from './allow-lists.ts';

const USAGE = `mailfleet render -f SPEC [-o DIR]
       mailfleet render crd
       mailfleet render alertmanager-web --password-file FILE -o FILE
       mailfleet render ldap-ca --key-file FILE|-
       mailfleet render redis-ca --password-file FILE|- | doveadm-ca --key-file FILE|-
       mailfleet render operator [--namespace NS] [--image IMAGE] [--watch-namespace NS | --allow-cross-namespace]
                                 [--allowed-registries REGISTRY,...] [--allowed-cluster-issuers NAME,...]`;

/**
 * `mailfleet render`: the platform as Kubernetes YAML, deterministic (same spec, same bytes). Without
 * `-o` one multi-document stream on stdout; with `-o DIR` one file per object plus kustomization.yaml,
 * and files of an earlier render that are no longer produced are removed.
 */
export async function renderCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'crd') {
    parse(argv.slice(1), {}, USAGE);
    process.stdout.write(toYaml([{ object: mailPlatformCrd() }]));
    return 0;
  }
  if (argv[0] === 'alertmanager-web') {
    const { values } = parse(argv.slice(1), { 'password-file': { type: 'string' }, output: { type: 'string', short: 'o' } }, USAGE);
    if (values['password-file'] === undefined) throw usageError(USAGE, '--password-file is required: the metrics admin key');
    if (values.output === undefined) throw usageError(USAGE, '-o FILE is required');
    // Loaded here only: no other command pays for the hashing library.
    const { writeAlertmanagerWebConfig } = await import('./alertmanager-web.ts');
    writeAlertmanagerWebConfig(values['password-file'], values.output);
    return 0;
  }
  if (argv[0] === 'ldap-ca') {
    const { values } = parse(argv.slice(1), { 'key-file': { type: 'string' } }, USAGE);
    if (values['key-file'] === undefined) throw usageError(USAGE, '--key-file is required: the LDAP TLS key (Secret key ldap-tls-key; - for stdin)');
    const { ldapCaSecretValueFromFile } = await import('./internal-cas.ts');
    process.stdout.write(`${ldapCaSecretValueFromFile(values['key-file'])}\n`);
    return 0;
  }
  if (argv[0] === 'redis-ca' || argv[0] === 'doveadm-ca') {
    const which = argv[0];
    const { CLIENT_CAS, clientCaPemFromFile } = await import('./internal-cas.ts');
    const { flag, secret, secretKey } = CLIENT_CAS[which];
    const { values } = parse(argv.slice(1), { [flag]: { type: 'string' } }, USAGE);
    const file = values[flag];
    if (typeof file !== 'string') throw usageError(USAGE, `--${flag} is required: the ${secret} (Secret key ${secretKey}; - for stdin)`);
    process.stdout.write(clientCaPemFromFile(which, file));
    return 0;
  }
  if (argv[0] === 'operator') {
    const { values } = parse(argv.slice(1), {
      namespace: { type: 'name' },
      image: { type: 'string' },
      'watch-namespace': { type: 'name' },
      'allow-cross-namespace': { type: 'boolean' },
      'allowed-registries': { type: 'string' },
      'allowed-cluster-issuers': { type: 'string' },
    }, USAGE);
    const namespace = values.namespace ?? 'mailfleet-system';
    const crossNamespace = values['allow-cross-namespace'] === true;
    const watchNamespace = values['watch-namespace'] ?? DEFAULT_WATCH_NAMESPACE;
    if (crossNamespace && values['watch-namespace']) throw usageError(USAGE, '--watch-namespace is for a namespaced operator; --allow-cross-namespace watches every namespace');
    // A platform's default-deny NetworkPolicy covers every pod of its namespace: the operator's too.
    if (!crossNamespace && watchNamespace === namespace) throw usageError(USAGE, `--watch-namespace must differ from the operator's namespace ${namespace}`);
    const objects = renderOperatorInstall({
      namespace,
      ...(values.image ? { image: values.image } : {}),
      ...(crossNamespace ? { allowCrossNamespace: true } : { watchNamespace }),
      allowedRegistries: allowedRegistries(values['allowed-registries'], USAGE),
      allowedClusterIssuers: allowedClusterIssuers(values['allowed-cluster-issuers'], USAGE),
    });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/part-of': 'mailfleet' } } };
    process.stdout.write(toYaml(sortObjects([ns, ...objects].map((object) => ({ object })))));
    return 0;
  }
  const { values } = parse(argv, { file: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' } }, USAGE);
  if (!values.file) throw usageError(USAGE, 'missing -f SPEC');
  const platform = loadSpecFile(values.file);
  const documents = renderPlatformDocuments(platform);
  // On stderr: stdout stays the YAML for `| kubectl apply -f -`.
  for (const warning of placeholderWarnings(platform)) process.stderr.write(`mailfleet: warning: ${warning}\n`);
  const sysctls = unsafeSysctlsNote(platform.spec);
  if (sysctls) process.stderr.write(`mailfleet: note: ${sysctls}\n`);
  process.stderr.write(`mailfleet: note: ${logsSecretNote(platform.spec)}\n`);
  if (!values.output) {
    process.stdout.write(toYaml(documents));
    return 0;
  }
  const dir = values.output;
  mkdirSync(dir, { recursive: true });
  const files = renderFiles(documents);
  let removed = 0;
  for (const name of readdirSync(dir)) {
    if (isRenderedFileName(name) && !(name in files)) {
      rmSync(join(dir, name));
      removed++;
    }
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  process.stderr.write(`mailfleet: rendered ${documents.length} objects into ${dir}${removed > 0 ? ` (removed ${removed} stale files)` : ''}\n`);
  return 0;
}
