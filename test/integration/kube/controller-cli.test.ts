/**
 * `mailfleet controller --source kube` as the rendered Deployment runs it: two replicas against the
 * in-process API server, one holding the Lease. Both must report ready (a standby is ready to take
 * over), or the Deployment — and with it the platform's Ready condition — would never be complete.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureBuilt } from '../../support/build.ts';
import { startTestCluster, waitFor, writeKubeconfig } from '../../support/kube/client.ts';

const DEADLINE_MS = 20_000;
const NS = 'default';
const REPLICAS = ['127.88.0.1', '127.88.0.2'];

test('GIVEN two controller replicas WHEN they start THEN one holds the Lease, both answer /readyz 200, and SIGTERM ends both with 0', async (t) => {
  const cluster = await startTestCluster(t);
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-test-controller-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = writeKubeconfig(cluster, join(dir, 'kubeconfig'), NS);
  const keyFile = join(dir, 'doveadm-api-key');
  writeFileSync(keyFile, 'controller-cli-test-key-0123\n', { mode: 0o400 });
  const main = ensureBuilt();
  const children = REPLICAS.map((address, i) => {
    const child = spawn(process.execPath, [
      main, 'controller', '--source', 'kube', '--kubeconfig', kubeconfig, '--namespace', NS, '--identity', `controller-${i}`,
      // No director answers here: the leader's reconcile fails and retries, which readiness does not depend on.
      '--director', 'https://127.88.0.100:8080', '--api-key-file', keyFile, '--listen', `${address}:8081`, '--resync', '2',
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    return { child, exited, address };
  });

  const ready = async (address: string) => (await fetch(`http://${address}:8081/readyz`).catch(() => undefined))?.status === 200;
  for (const { address } of children) await waitFor(`${address} ready`, () => ready(address), DEADLINE_MS);
  const lease = await waitFor('the Lease held', async () => {
    const l = await cluster.coordination.readNamespacedLease({ name: 'mailfleet-backend-sync', namespace: NS }).catch(() => undefined);
    return l?.spec?.holderIdentity ? l : undefined;
  }, DEADLINE_MS);
  assert.ok(['controller-0', 'controller-1'].includes(lease.spec?.holderIdentity ?? ''));
  // The new leader reports ready again once its EndpointSlice cache has listed, a moment after it took the Lease.
  for (const { address } of children) await waitFor(`${address} ready whether leader or standby`, () => ready(address), DEADLINE_MS);

  for (const { child } of children) child.kill('SIGTERM');
  for (const { exited } of children) assert.equal(await exited, 0);
});
