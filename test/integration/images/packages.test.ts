import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { aptGetInstalls } from '../../images/dockerfile.ts';
import { AGENT_TOOLS, DAEMON_BINARIES, loadImages, removesAfterInstall, SNAKEOIL_KEY, type Image } from '../../images/images.ts';

// The Debian package lists come from `apt-get update`, which scripts/install-debian-packages.sh runs
// (scripts/test runs it first). Nothing here touches the network: apt-cache and dpkg read local files.

const LISTS_HINT = 'run apt-get update (scripts/install-debian-packages.sh does)';
/** An archive line of `apt-cache madison`: `name | version | URI bookworm[-updates|-security]/main arch Packages`. */
const BOOKWORM_MAIN = / bookworm(-updates|-security)?\/main /;

const images = loadImages();
const installed = [...new Set(images.flatMap((i) => i.packages))].sort();

interface AptRecord {
  version: string;
  depends: string[];
}

function aptCache(args: string[]): string {
  const r = spawnSync('apt-cache', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`apt-cache ${args[0]}: ${r.error.message}`, { cause: r.error });
  // apt-cache exits 100 when one of several names is unknown, and still prints the others.
  return r.stdout;
}

/** Package names of a Depends/Pre-Depends field, alternatives included, versions and arch qualifiers removed. */
function dependencyNames(field: string): string[] {
  return field.split(/[,|]/).map((d) => d.trim().split(/[\s(:]/)[0] ?? '').filter(Boolean);
}

/** `apt-cache show --no-all-versions`: the candidate record of each name apt knows. */
function showRecords(names: string[]): Map<string, AptRecord> {
  const out = new Map<string, AptRecord>();
  for (const block of aptCache(['show', '--no-all-versions', ...names]).split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1] ?? '';
    const pkg = field('Package');
    if (pkg === '' || out.has(pkg)) continue;
    out.set(pkg, { version: field('Version'), depends: [...dependencyNames(field('Depends')), ...dependencyNames(field('Pre-Depends'))] });
  }
  return out;
}

/** `apt-cache madison`: the Debian 12 main versions of each name (lists only, not what dpkg has installed). */
function bookwormVersions(names: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of aptCache(['madison', ...names]).split('\n')) {
    const [name, version, source] = line.split('|').map((s) => s.trim());
    if (!name || !version || !source || !BOOKWORM_MAIN.test(` ${source} `)) continue;
    out.set(name, [...(out.get(name) ?? []), version]);
  }
  return out;
}

/** The packages dpkg says own `path` (`dpkg -S`); needs them installed here. */
function owners(path: string): string[] {
  const r = spawnSync('dpkg', ['-S', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, `dpkg -S ${path}: ${r.stderr.trim()}; install the runtime packages: scripts/install-debian-packages.sh`);
  return r.stdout.split('\n')
    .filter((l) => !l.startsWith('diversion by') && l.endsWith(`: ${path}`))
    .flatMap((l) => l.slice(0, -(path.length + 2)).split(',').map((p) => p.trim().split(':')[0] ?? ''));
}

function image(dir: string): Image {
  const found = images.find((i) => i.dir === dir);
  assert.ok(found, `images/${dir}/Dockerfile`);
  return found;
}

test('GIVEN the Debian package lists WHEN every package the Dockerfiles install is looked up THEN Debian 12 main has it', () => {
  assert.ok(installed.length >= 10, `packages found in the Dockerfiles: ${installed.join(' ')}`);
  const versions = bookwormVersions(installed);
  if (versions.size === 0) assert.fail(`apt-cache knows none of ${installed.join(' ')} in bookworm: the package lists are absent; ${LISTS_HINT}`);
  const records = showRecords(installed);
  for (const pkg of installed) {
    assert.ok(records.get(pkg)?.version, `apt-cache show --no-all-versions ${pkg} found nothing`);
    assert.ok((versions.get(pkg) ?? []).length > 0, `${pkg} is not in Debian 12 (bookworm) main`);
  }
});

test('GIVEN the daemons and tools the agent runs WHEN dpkg names their packages THEN the image of that daemon installs them', () => {
  for (const { path, image: dir } of [...DAEMON_BINARIES, ...AGENT_TOOLS]) {
    const img = image(dir);
    const pkgs = owners(path);
    assert.ok(pkgs.length > 0, `dpkg -S ${path}`);
    assert.ok(pkgs.some((p) => img.finalPackages.includes(p)), `${path} belongs to ${pkgs.join(', ')}, which ${img.file} does not install`);
  }
  // script(1) gives `postfix check` a terminal; it must be in every Debian image without being installed.
  const [scriptPkg] = owners('/usr/bin/script');
  assert.ok(scriptPkg);
  const essential = spawnSync('dpkg-query', ['-W', '-f=${Essential}', scriptPkg], { encoding: 'utf8' }).stdout.trim();
  assert.equal(essential, 'yes', `${scriptPkg} (/usr/bin/script) is Essential in Debian 12`);
});

test('GIVEN the dependencies of each package an image installs WHEN one depends on ssl-cert THEN that RUN deletes the key ssl-cert generates', () => {
  const records = showRecords(installed);
  let pulling = 0;
  for (const img of images) {
    for (const run of img.final.instructions.filter((i) => i.keyword === 'RUN')) {
      const pkgs = aptGetInstalls(run.args).flatMap((a) => a.packages);
      const needing = pkgs.filter((p) => records.get(p)?.depends.includes('ssl-cert'));
      if (needing.length === 0) continue;
      pulling++;
      assert.ok(removesAfterInstall(run, SNAKEOIL_KEY), `images/${img.dir}/Dockerfile:${run.line}: ${needing.join(', ')} pull ssl-cert; rm ${SNAKEOIL_KEY}`);
    }
  }
  assert.ok(pulling >= 2, 'postfix and dovecot-core depend on ssl-cert');
});
