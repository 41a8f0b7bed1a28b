import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRenderedFileName, mailPlatformCrd, renderFiles, renderPlatformDocuments, sortObjects, toYaml } from '../runtime/kube/index.ts';
import { renderOperatorInstall } from '../runtime/kube/operator/index.ts';
import { loadSpecFile } from '../spec/index.ts';
import { parse, usageError } from './args.ts';

const USAGE = `mailfleet render -f SPEC [-o DIR]
       mailfleet render crd
       mailfleet render operator [--namespace NS] [--image IMAGE]`;

/**
 * `mailfleet render`: the platform as Kubernetes YAML, deterministic (same spec, same bytes). Without
 * `-o` one multi-document stream on stdout; with `-o DIR` one file per object plus kustomization.yaml,
 * and files of an earlier render that are no longer produced are removed.
 */
export async function renderCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'crd') {
    process.stdout.write(toYaml([{ object: mailPlatformCrd() }]));
    return 0;
  }
  if (argv[0] === 'operator') {
    const { values } = parse(argv.slice(1), { namespace: { type: 'name' }, image: { type: 'string' } }, USAGE);
    const namespace = values.namespace ?? 'mailfleet-system';
    const objects = renderOperatorInstall({ namespace, ...(values.image ? { image: values.image } : {}) });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/part-of': 'mailfleet' } } };
    process.stdout.write(toYaml(sortObjects([ns, ...objects].map((object) => ({ object })))));
    return 0;
  }
  const { values } = parse(argv, { file: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' } }, USAGE);
  if (!values.file) throw usageError(USAGE, 'missing -f SPEC');
  const documents = renderPlatformDocuments(loadSpecFile(values.file));
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
