import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import { POD_PATHS } from '../../src/agent/index.ts';
import { MAILFLEET_UID } from '../../src/runtime/kube/index.ts';
import { ROLES } from '../../src/spec/index.ts';
import {
  aptGetInstalls, argDeclarations, assumesYes, execForm, keyValues, words, type Instruction, type Stage,
} from './dockerfile.ts';
import { inContext, parseDockerignore } from './dockerignore.ts';
import {
  DAEMON_BINARIES, DAEMON_IMAGES, IMAGE_NAMES, loadImages, NOT_IN_AN_IMAGE, removesAfterInstall, REPO, ROLE_IMAGES, runCommands, STANDALONE_IMAGES,
  scriptArray, scriptPreseeds, SNAKEOIL_KEY, type Image,
} from './images.ts';

const CLI = '/opt/mailfleet/bin/mailfleet';
const MAILFLEET_ARG = 'MAILFLEET_IMAGE';
const DEBIAN_BASE = /^debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?$/;
const APT_LISTS = '/var/lib/apt/lists';
const POLICY_RC = '/usr/sbin/policy-rc.d';
/**
 * Images that run as root: Postfix's master, Dovecot and slapd start as root and drop privileges
 * themselves; Redis would not need root, but the agent that starts it (PID 1) installs root-owned config
 * files today (images/README.md).
 */
const ROOT_IMAGES = ['dovecot', 'openldap', 'postfix', 'rspamd'];

const images = loadImages();

function image(dir: string): Image {
  const found = images.find((i) => i.dir === dir);
  assert.ok(found, `images/${dir}/Dockerfile is missing`);
  return found;
}

function where(img: Image, ins: Instruction): string {
  return `images/${img.dir}/Dockerfile:${ins.line}`;
}

function labels(stage: Stage): Record<string, string> {
  return Object.fromEntries(stage.instructions.filter((i) => i.keyword === 'LABEL').flatMap(keyValues));
}

function runs(stage: Stage): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN');
}

/** A name that looks like it holds a password, key, token or other secret. */
const SECRET_WORDS = new Set(['PASS', 'PASSWD', 'PASSWORD', 'PWD', 'SECRET', 'SECRETS', 'TOKEN', 'KEY', 'APIKEY', 'CREDENTIAL', 'CREDENTIALS', 'PRIVATE', 'AUTH']);
function looksSecret(name: string): boolean {
  const upper = name.toUpperCase();
  return /PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|CREDENTIAL/.test(upper) || upper.split(/[_\-.]/).some((w) => SECRET_WORDS.has(w));
}

/** The user an image runs as: its last USER, else its base's (the mailfleet image for daemon images), else root. */
function effectiveUser(img: Image): string {
  const users = img.final.instructions.filter((i) => i.keyword === 'USER');
  const last = users[users.length - 1];
  if (last) return last.args;
  if (img.final.base === `\${${MAILFLEET_ARG}}` && img.dir !== 'mailfleet') return effectiveUser(image('mailfleet'));
  return 'root';
}

/** uid → name of every `useradd --uid N … NAME` in an image and (for daemon images) its base. */
function createdUsers(img: Image): Map<string, string> {
  const out = new Map<string, string>();
  const sources = img.dir === 'mailfleet' ? [img] : [image('mailfleet'), img];
  for (const source of sources) {
    for (const run of runs(source.final)) {
      for (const cmd of runCommands(run)) {
        if (cmd[0] !== 'useradd') continue;
        const uid = cmd[cmd.indexOf('--uid') + 1];
        const name = cmd[cmd.length - 1];
        if (cmd.includes('--uid') && uid && name) out.set(uid, name);
      }
    }
  }
  return out;
}

test('GIVEN images/ WHEN listed THEN there is one Dockerfile per image the renderer pulls, and each parses', () => {
  assert.deepEqual(images.map((i) => i.dir).sort(), Object.keys(IMAGE_NAMES).sort());
  for (const img of images) assert.ok(img.dockerfile.instructions.length > 0, img.file);
});

test('GIVEN each image WHEN its OCI labels are read THEN the title is the image name the renderer pulls, with a description and the project licence', () => {
  const { license } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { license: string };
  for (const img of images) {
    const l = labels(img.final);
    assert.equal(l['org.opencontainers.image.title'], IMAGE_NAMES[img.dir], img.file);
    assert.ok((l['org.opencontainers.image.description'] ?? '').length > 20, `${img.file}: a description`);
    assert.equal(l['org.opencontainers.image.licenses'], license, img.file);
  }
});

test('GIVEN every stage WHEN its base is read THEN it is Debian 12, the mailfleet build argument, or an earlier stage', () => {
  for (const img of images) {
    const earlier: string[] = [];
    for (const stage of img.stages) {
      const ok = DEBIAN_BASE.test(stage.base) || stage.base === `\${${MAILFLEET_ARG}}` || earlier.includes(stage.base.toLowerCase());
      assert.ok(ok, `${where(img, stage.from)}: FROM ${stage.base}`);
      if (stage.name) earlier.push(stage.name);
    }
  }
  for (const stage of image('mailfleet').stages) assert.match(stage.base, DEBIAN_BASE);
});

test('GIVEN a daemon image WHEN its base is read THEN it is built FROM the MAILFLEET_IMAGE build argument, which has no default', () => {
  for (const dir of DAEMON_IMAGES) {
    const img = image(dir);
    assert.equal(img.stages.length, 1, `${img.file}: one stage`);
    assert.equal(img.final.base, `\${${MAILFLEET_ARG}}`, img.file);
    const declared = img.globalArgs.flatMap(argDeclarations).find((a) => a.name === MAILFLEET_ARG);
    assert.ok(declared, `${img.file}: ARG ${MAILFLEET_ARG} before FROM`);
    assert.equal(declared.value, undefined, `${img.file}: a default would silently pick whatever image has that tag`);
  }
});

test('GIVEN each image WHEN its ENTRYPOINT is read THEN it is the exec-form CLI, and `mailfleet agent` for every daemon image', () => {
  for (const img of images) {
    const entrypoints = img.final.instructions.filter((i) => i.keyword === 'ENTRYPOINT');
    assert.equal(entrypoints.length, 1, `${img.file}: one ENTRYPOINT`);
    const exec = execForm(entrypoints[0]?.args ?? '');
    assert.ok(exec, `${img.file}: exec form, so that no shell sits between the container runtime and the agent`);
    if ((STANDALONE_IMAGES as readonly string[]).includes(img.dir)) {
      assert.ok(exec[0]?.startsWith('/') && exec.length === 1, `${img.file}: the daemon itself, by absolute path, arguments in CMD`);
      continue;
    }
    assert.deepEqual(exec, img.dir === 'mailfleet' ? [CLI] : [CLI, 'agent'], img.file);
  }
});

test('GIVEN bin/mailfleet WHEN the mailfleet image lays out /opt/mailfleet THEN the CLI finds the pinned Node.js and the compiled CLI where it looks and execs it', () => {
  const launcher = readFileSync(join(REPO, 'bin', 'mailfleet'), 'utf8');
  assert.match(launcher, /node="\$here\/node_modules\/\.bin\/node"/);
  assert.match(launcher, /^exec "\$node" "\$\{v8\[@\]\}" "\$here\/dist\/cli\/main\.js" "\$@"$/m, 'exec: Node.js replaces bash and is PID 1, running the build');
  const img = image('mailfleet');
  let workdir = '/';
  const copied = new Map<string, string>();
  for (const ins of img.final.instructions) {
    if (ins.keyword === 'WORKDIR') workdir = posix.resolve(workdir, ins.args);
    if (ins.keyword !== 'COPY') continue;
    const list = execForm(ins.args) ?? words(ins.args);
    const dest = posix.resolve(workdir, list[list.length - 1] ?? '');
    for (const src of list.slice(0, -1)) {
      const from = ins.flags.from === undefined ? src : `${ins.flags.from}:${src}`;
      copied.set(from.replace(/\/$/, ''), list[list.length - 1]?.endsWith('/') ? posix.join(dest, posix.basename(src)) : dest);
    }
  }
  assert.equal(copied.get('bin'), '/opt/mailfleet/bin');
  assert.equal(copied.get('package.json'), '/opt/mailfleet/package.json');
  assert.equal(copied.get('build:/opt/mailfleet/node_modules'), '/opt/mailfleet/node_modules');
  assert.equal(copied.get('build:/opt/compile/dist'), '/opt/mailfleet/dist', 'the compiled CLI, where bin/mailfleet runs it');
  assert.equal(copied.get('src'), undefined, 'the image runs the build, not the TypeScript sources');
  const build = img.stages.find((s) => s.name === 'build');
  assert.ok(build, 'a build stage');
  assert.ok(runs(build).some((r) => r.args.includes('/opt/mailfleet/node_modules/.bin/node')), 'the build stage installs node_modules/.bin/node');
});

test('GIVEN the mailfleet image WHEN its build stage compiles the CLI THEN it runs scripts/build on the pinned Node.js with the lockfile\'s compiler, and the image loads every command', () => {
  const img = image('mailfleet');
  const build = img.stages.find((s) => s.name === 'build');
  assert.ok(build, 'a build stage');
  const cmds = runs(build).flatMap(runCommands);
  const ci = cmds.findIndex((c) => c[0] === 'npm' && c[1] === 'ci' && !c.includes('--omit=dev'));
  const pinned = cmds.findIndex((c) => c.join(' ') === 'ln -sf /opt/mailfleet/node_modules/.bin/node node_modules/.bin/node');
  const script = cmds.findIndex((c) => c.join(' ') === 'scripts/build');
  assert.ok(ci >= 0 && ci < pinned && pinned < script, `${img.file}: npm ci (with the dev dependencies: typescript), the pinned Node.js as node_modules/.bin/node, then scripts/build; got ${JSON.stringify(cmds)}`);
  assert.ok(cmds.some((c) => c.join(' ') === 'test -f dist/spec/platform-validator.cjs'), `${img.file}: the build checks that the standalone spec validator was written`);
  const buildScript = readFileSync(join(REPO, 'scripts', 'build'), 'utf8');
  assert.match(buildScript, /"\$node" node_modules\/typescript\/bin\/tsc -p tsconfig\.build\.json/, 'scripts/build runs tsc on node_modules/.bin/node');
  const copies = build.instructions.filter((i) => i.keyword === 'COPY').map((i) => execForm(i.args) ?? words(i.args));
  for (const file of ['tsconfig.json', 'tsconfig.build.json', 'scripts/build', 'src']) assert.ok(copies.some((c) => c.slice(0, -1).includes(file)), `${img.file}: the build stage copies ${file}`);
  const check = runs(img.final).map((r) => r.args).join('\n');
  assert.match(check, /mailfleet help/);
  assert.match(check, /readdirSync\('dist\/cli'\)/, 'every command module is imported once at build time, since the CLI loads them lazily');
});

test('GIVEN the lockfile WHEN the mailfleet image installs Node.js THEN it is the npm `node` package at the version the lockfile pins (24 or later), checked at build', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  const pinned = lock.packages['node_modules/node']?.version ?? '';
  assert.equal(pinned, pkg.devDependencies.node);
  assert.ok(Number(pinned.split('.')[0]) >= 24, `node ${pinned}`);
  const script = runs(image('mailfleet').stages[0]!).map((r) => r.args).join('\n');
  assert.match(script, /npm ci --omit=dev/);
  assert.ok(script.includes("packages['node_modules/node'].version"), 'the version comes from package-lock.json');
  assert.ok(script.includes('"node@${node_version}"'));
  assert.ok(script.includes('--version)" = "v${node_version}"'), 'the build fails on any other version');
  assert.doesNotMatch(images.map((i) => i.text).join('\n'), /\b(curl|wget)\b|ADD\s+https?:/, 'nothing downloaded outside npm and apt');
});

test('GIVEN variable names WHEN judged THEN secret-looking ones are recognised and ordinary ones are not', () => {
  for (const name of ['LDAP_ADMIN_PASSWORD', 'DOVEADM_API_KEY', 'REDIS_PASS', 'GITHUB_TOKEN', 'mysecret', 'AWS_SECRET_ACCESS_KEY', 'NPM_AUTH']) {
    assert.equal(looksSecret(name), true, name);
  }
  for (const name of ['MAILFLEET_IMAGE', 'DEBIAN_FRONTEND', 'PATH', 'KEYBOARD_LAYOUT', 'NODE_VERSION']) assert.equal(looksSecret(name), false, name);
});

test('GIVEN every image WHEN ENV, ARG, COPY and ADD are read THEN no secret is baked in', () => {
  for (const img of images) {
    for (const ins of img.dockerfile.instructions) {
      if (ins.keyword === 'ENV') {
        for (const [name, value] of keyValues(ins)) assert.ok(!looksSecret(name) || value === '', `${where(img, ins)}: ENV ${name} has a value`);
      }
      if (ins.keyword === 'ARG') {
        // Even without a default, a build argument's value is recorded in the image history.
        for (const { name } of argDeclarations(ins)) assert.ok(!looksSecret(name), `${where(img, ins)}: ARG ${name}`);
      }
      if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
        const list = execForm(ins.args) ?? words(ins.args);
        for (const src of list.slice(0, -1)) {
          assert.doesNotMatch(src, /secret|\.pem$|\.key$|(^|\/)\.env|^https?:/i, `${where(img, ins)}: ${ins.keyword} ${src}`);
        }
      }
    }
  }
});

test('GIVEN every apt-get install WHEN read THEN it is non-interactive, without recommends, after an update, with services kept down and the lists removed', () => {
  let installs = 0;
  for (const img of images) {
    assert.ok(!img.dockerfile.instructions.some((i) => i.keyword === 'ENV' && keyValues(i).some(([k]) => k === 'DEBIAN_FRONTEND')),
      `${img.file}: DEBIAN_FRONTEND as ENV would stay set in the running container; use ARG`);
    for (const stage of img.stages) {
      let noninteractiveArg = false;
      // A daemon image starts as the mailfleet image's user, which is not root: packages install only as root.
      let user = stage.base === `\${${MAILFLEET_ARG}}` ? effectiveUser(image('mailfleet')) : 'root';
      for (const ins of stage.instructions) {
        if (ins.keyword === 'ARG') noninteractiveArg ||= argDeclarations(ins).some((a) => a.name === 'DEBIAN_FRONTEND' && a.value === 'noninteractive');
        if (ins.keyword === 'USER') user = ins.args;
        if (ins.keyword !== 'RUN') continue;
        if (aptGetInstalls(ins.args).length > 0) assert.ok(['root', '0', '0:0'].includes(user), `${where(img, ins)}: apt-get install runs as ${user}, not root: USER root before it`);
        const cmds = runCommands(ins);
        for (const install of aptGetInstalls(ins.args)) {
          installs++;
          const at = where(img, ins);
          const index = cmds.findIndex((c) => aptGetInstalls(c.join(' ')).length > 0 && c.join(' ').includes(install.packages.join(' ')));
          assert.ok(assumesYes(install.options), `${at}: -y`);
          assert.ok(install.options.includes('--no-install-recommends'), `${at}: --no-install-recommends`);
          assert.ok(noninteractiveArg || install.env.DEBIAN_FRONTEND === 'noninteractive', `${at}: DEBIAN_FRONTEND=noninteractive`);
          for (const p of install.packages) assert.match(p, /^[a-z0-9][a-z0-9+.-]+$/, `${at}: a literal Debian package name`);
          const before = cmds.slice(0, index);
          const after = cmds.slice(index + 1);
          assert.ok(before.some((c) => c[0] === 'apt-get' && c.includes('update')), `${at}: apt-get update in the same RUN`);
          assert.ok(before.some((c) => c.join(' ').includes('exit 101') && c[c.indexOf('>') + 1] === POLICY_RC), `${at}: ${POLICY_RC} exiting 101`);
          assert.ok(before.some((c) => c[0] === 'chmod' && /^0?7[0-7]5$|^\+x$|^a\+x$/.test(c[1] ?? '') && c.includes(POLICY_RC)), `${at}: ${POLICY_RC} executable`);
          assert.ok(after.some((c) => c[0] === 'rm' && /^-(rf|fr)$/.test(c[1] ?? '') && c.some((w) => w.replace(/\/\*$/, '') === APT_LISTS)), `${at}: rm -rf ${APT_LISTS}/* in the same RUN`);
        }
      }
    }
  }
  assert.ok(installs >= images.length, 'every image installs packages');
});

test('GIVEN the debconf selections of scripts/install-debian-packages.sh WHEN an image installs their package THEN it preseeds them first', () => {
  const preseeds = scriptPreseeds();
  assert.deepEqual(preseeds.map((p) => p.pkg).sort(), ['postfix', 'slapd']);
  for (const { pkg, line } of preseeds) {
    const installing = images.filter((i) => i.finalPackages.includes(pkg));
    assert.ok(installing.length > 0, `some image installs ${pkg}`);
    for (const img of installing) {
      const cmds = runs(img.final).flatMap(runCommands);
      const set = cmds.findIndex((c, i) => c[0] === 'echo' && c.slice(1).join(' ') === line && cmds[i + 1]?.[0] === 'debconf-set-selections');
      const install = cmds.findIndex((c) => aptGetInstalls(c.join(' ')).some((a) => a.packages.includes(pkg)));
      assert.ok(set >= 0 && set < install, `${img.file}: echo '${line}' | debconf-set-selections before installing ${pkg}`);
    }
  }
});

test('GIVEN RUNTIME_PACKAGES of scripts/install-debian-packages.sh WHEN compared with the images THEN each is installed by some image, or excluded with a reason', () => {
  const runtime = scriptArray('RUNTIME_PACKAGES');
  assert.ok(runtime.includes('postfix') && runtime.includes('redis-server'), `parsed ${runtime.join(' ')}`);
  const installed = new Set(images.flatMap((i) => i.finalPackages));
  for (const pkg of runtime) {
    if (pkg in NOT_IN_AN_IMAGE) assert.ok(!installed.has(pkg), `${pkg} is installed by an image: drop it from NOT_IN_AN_IMAGE`);
    else assert.ok(installed.has(pkg), `${pkg} (RUNTIME_PACKAGES) is installed by no image`);
  }
  for (const pkg of Object.keys(NOT_IN_AN_IMAGE)) assert.ok(runtime.includes(pkg), `${pkg} is excluded but no longer in RUNTIME_PACKAGES`);
});

test('GIVEN the agent roles WHEN mapped to images THEN every role has an image whose build checks the daemon binary the agent starts', () => {
  assert.deepEqual(Object.keys(ROLE_IMAGES).sort(), [...ROLES].sort());
  for (const { path, image: dir } of DAEMON_BINARIES) {
    const img = image(dir);
    const checked = runs(img.final).flatMap(runCommands).some((c) => c[0] === 'test' && c[1] === '-x' && c[2] === path);
    assert.ok(checked, `${img.file}: test -x ${path}, so that the build fails if the package moves it`);
  }
});

test('GIVEN each image WHEN its user is read THEN the daemon images run as root, saying why, and the mailfleet image as the numeric uid of the controller Deployment', () => {
  for (const img of images) {
    const user = effectiveUser(img);
    if (ROOT_IMAGES.includes(img.dir)) {
      assert.equal(user, 'root', img.file);
      const lines = img.text.split('\n');
      const at = lines.findIndex((l) => /^USER root\s*$/.test(l));
      assert.ok(at > 0 && /^#.*\broot\b/.test(lines[at - 1] ?? '') , `${img.file}: a comment above USER root says why`);
    } else {
      // Numeric: Kubernetes can verify runAsNonRoot only against a numeric user.
      const m = /^(\d+)(?::(\d+))?$/.exec(user);
      assert.ok(m?.[1] && Number(m[1]) !== 0, `${img.file}: numeric non-root USER, got ${user}`);
      // 65534 (nobody) is in every Debian base image; any other uid is created here.
      assert.ok(m[1] === '65534' || createdUsers(img).has(m[1]), `${img.file}: uid ${m[1]} is created with useradd --uid`);
    }
  }
  assert.equal(effectiveUser(image('mailfleet')), `${MAILFLEET_UID}:${MAILFLEET_UID}`, 'the uid the controller Deployment runs as');
});

test('GIVEN the users that own files on volumes WHEN their images are read THEN each is created with the fixed id images/README.md lists', () => {
  // Package scripts allocate ids dynamically; a PVC (and the mail storage every mailbox pod shares) needs the same owner in every build.
  const fixed: Record<string, Record<string, string>> = {
    postfix: { 200: 'postfix' },
    dovecot: { 5000: 'vmail' },
    openldap: { 220: 'openldap' },
    redis: { 999: 'redis' },
    rspamd: { 230: '_rspamd' },
    clamav: { 240: 'clamav' },
  };
  const readme = readFileSync(join(REPO, 'images', 'README.md'), 'utf8');
  for (const [dir, users] of Object.entries(fixed)) {
    const created = createdUsers(image(dir));
    for (const [uid, name] of Object.entries(users)) {
      assert.equal(created.get(uid), name, `images/${dir}: useradd --uid ${uid} ${name}`);
      assert.match(readme, new RegExp(`\\| \`${name}\`[^|]*\\| ${uid}:${uid} \\|`), `images/README.md lists ${name} ${uid}:${uid}`);
    }
  }
});

test('GIVEN each image WHEN its VOLUMEs are read THEN they are the pod volumes of POD_PATHS, declared only in the daemon images', () => {
  const volumes = (img: Image) => img.final.instructions.filter((i) => i.keyword === 'VOLUME').flatMap((i) => execForm(i.args) ?? words(i.args));
  assert.deepEqual(volumes(image('mailfleet')), [], 'a VOLUME in the base would discard what the daemon images prepare there');
  for (const dir of DAEMON_IMAGES) {
    const list = volumes(image(dir));
    assert.ok(list.includes(POD_PATHS.data), `images/${dir}: VOLUME ${POD_PATHS.data}`);
    for (const v of list) assert.ok(v === POD_PATHS.data || v === POD_PATHS.mail || v === POD_PATHS.signatures, `images/${dir}: VOLUME ${v} is not a pod volume`);
  }
  assert.ok(volumes(image('dovecot')).includes(POD_PATHS.mail), `images/dovecot: VOLUME ${POD_PATHS.mail}`);
  assert.ok(volumes(image('clamav')).includes(POD_PATHS.signatures), `images/clamav: VOLUME ${POD_PATHS.signatures}`);
  for (const dir of DAEMON_IMAGES.filter((d) => d !== 'clamav')) assert.ok(!volumes(image(dir)).includes(POD_PATHS.signatures), `images/${dir}: only clamav holds signatures`);
});

test('GIVEN the tools the agent runs by name WHEN PATH is set THEN it keeps the sbin directories and puts the CLI first', () => {
  const paths = images.flatMap((img) => img.dockerfile.instructions.filter((i) => i.keyword === 'ENV').flatMap(keyValues).filter(([k]) => k === 'PATH').map(([, v]) => v));
  assert.ok(paths.length > 0);
  for (const p of paths) {
    const dirs = p.split(':');
    assert.equal(dirs[0], '/opt/mailfleet/bin');
    for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) assert.ok(dirs.includes(d), `PATH ${p} lacks ${d}`);
  }
});

test('GIVEN Postfix and Dovecot, whose ssl-cert dependency makes a key at install WHEN installed THEN the same RUN deletes the key', () => {
  for (const [dir, keys] of [['postfix', [SNAKEOIL_KEY]], ['dovecot', [SNAKEOIL_KEY, '/etc/dovecot/private/dovecot.key']]] as const) {
    const img = image(dir);
    const run = runs(img.final).find((r) => aptGetInstalls(r.args).length > 0);
    assert.ok(run, img.file);
    for (const key of keys) assert.ok(removesAfterInstall(run, key), `${img.file}: rm ${key} after the install`);
  }
});

test('GIVEN .dockerignore WHEN the build context is computed THEN it holds what the Dockerfiles copy and nothing else', () => {
  const patterns = parseDockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));
  for (const img of images) {
    for (const ins of img.dockerfile.instructions.filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && i.flags.from === undefined)) {
      const list = execForm(ins.args) ?? words(ins.args);
      for (const src of list.slice(0, -1)) assert.ok(inContext(patterns, src), `${where(img, ins)}: ${src} is not in the build context`);
    }
  }
  for (const path of ['bin/mailfleet', 'src/cli/main.ts', 'src/agent/paths.ts']) assert.ok(inContext(patterns, path), path);
  for (const path of ['node_modules/node/bin/node', '.git/HEAD', 'state/control.sock', '.state/x', 'test/images/dockerfiles.test.ts', '.env', 'examples/mailfleet.yaml', 'images/mailfleet/Dockerfile']) {
    assert.ok(!inContext(patterns, path), `${path} must stay out of the build context`);
  }
});

test('GIVEN the rendered example WHEN its container images are listed THEN every mailfleet image it pulls has a Dockerfile here', async () => {
  const { renderPlatform } = await import('../../src/runtime/kube/index.ts');
  const { loadSpecFile } = await import('../../src/spec/index.ts');
  const doc = loadSpecFile(join(REPO, 'examples', 'mailfleet.yaml'));
  const registry = `${doc.spec.kubernetes.images.registry}/`;
  const pulled = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'image' && typeof x === 'string' && x.startsWith(registry)) pulled.add(x.slice(registry.length).split(':')[0] ?? '');
        else walk(x);
      }
    }
  };
  walk(renderPlatform(doc));
  const built = new Set(Object.values(IMAGE_NAMES));
  assert.ok(pulled.size >= 5, `found ${[...pulled].join(', ')}`);
  for (const name of pulled) assert.ok(built.has(name), `${name} is pulled by the rendered manifests but no images/*/Dockerfile builds it`);
});
