/** The repository's images as the image tests see them: parsed Dockerfiles and the facts they must agree with. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOVECOT, POSTFIX_MASTER, REDIS, SLAPD } from '../../src/agent/index.ts';
import { CLAMD, FRESHCLAM, RSPAMD } from '../../src/config/index.ts';
import type { Role } from '../../src/spec/index.ts';
import { aptGetInstalls, execForm, parseDockerfile, shellCommands, stages, type Dockerfile, type Instruction, type Stage } from './dockerfile.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const IMAGES_DIR = join(REPO, 'images');
export const INSTALL_SCRIPT = join(REPO, 'scripts', 'install-debian-packages.sh');

/** Directory under images/ → the image name the renderer pulls (`<registry>/<name>:<tag>`, see KubernetesSpec.images). */
export const IMAGE_NAMES: Record<string, string> = {
  mailfleet: 'mailfleet',
  postfix: 'mailfleet-postfix',
  dovecot: 'mailfleet-dovecot',
  openldap: 'mailfleet-openldap',
  redis: 'mailfleet-redis',
  unbound: 'mailfleet-unbound',
  rspamd: 'mailfleet-rspamd',
  clamav: 'mailfleet-clamav',
};

/** Images whose own daemon is the entrypoint (not `mailfleet agent`): supporting services, no agent role. */
export const STANDALONE_IMAGES = ['unbound'] as const;

/** The images built FROM the mailfleet image that run a daemon under `mailfleet agent`. */
export const DAEMON_IMAGES = ['postfix', 'dovecot', 'openldap', 'redis', 'rspamd', 'clamav'] as const;
export type DaemonImage = (typeof DAEMON_IMAGES)[number];

/** Which image runs each agent role. */
export const ROLE_IMAGES: Record<Role, DaemonImage> = {
  mta: 'postfix',
  msa: 'postfix',
  proxy: 'dovecot',
  mailbox: 'dovecot',
  ldap: 'openldap',
  kvs: 'redis',
};

/**
 * The daemon binary the agent starts (src/agent/daemons.ts) and the image that must hold it; and freshclam, which
 * the updater's Deployment runs itself (src/runtime/kube/antivirus.ts).
 */
export const DAEMON_BINARIES: { path: string; image: DaemonImage }[] = [
  { path: POSTFIX_MASTER, image: 'postfix' },
  { path: DOVECOT, image: 'dovecot' },
  { path: SLAPD, image: 'openldap' },
  { path: REDIS, image: 'redis' },
  { path: RSPAMD, image: 'rspamd' },
  { path: CLAMD, image: 'clamav' },
  { path: FRESHCLAM, image: 'clamav' },
];

/** Tools the agent runs by name next to its daemon (init, reload, drain), with the image they belong to. */
export const AGENT_TOOLS: { path: string; image: DaemonImage }[] = [
  { path: '/usr/sbin/postfix', image: 'postfix' },
  { path: '/usr/sbin/postqueue', image: 'postfix' },
  { path: '/usr/bin/doveadm', image: 'dovecot' },
  { path: '/usr/sbin/slapadd', image: 'openldap' },
];

/**
 * RUNTIME_PACKAGES that no image installs, each with the reason. VictoriaMetrics is no agent role: it is
 * not run by `mailfleet agent`, and no mailfleet image is named for it (KubernetesSpec.images).
 */
export const NOT_IN_AN_IMAGE: Record<string, string> = {
  'victoria-metrics': 'the metrics workload is not an agent role and has no mailfleet image',
  'prometheus-alertmanager': 'Kubernetes runs the upstream Alertmanager image; only the single host runs the Debian package',
};

/** The private key ssl-cert's postinst generates on install (a dependency of postfix and dovecot-core). */
export const SNAKEOIL_KEY = '/etc/ssl/private/ssl-cert-snakeoil.key';

export interface Image {
  dir: string;
  file: string;
  text: string;
  dockerfile: Dockerfile;
  globalArgs: Instruction[];
  stages: Stage[];
  /** The stage that becomes the image. */
  final: Stage;
  /** Debian packages installed by any stage, in order. */
  packages: string[];
  /** Debian packages installed by the final stage (what the image holds). */
  finalPackages: string[];
}

export function stagePackages(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').flatMap((i) => aptGetInstalls(i.args).flatMap((a) => a.packages));
}

export function loadImage(dir: string): Image {
  const file = join(IMAGES_DIR, dir, 'Dockerfile');
  const text = readFileSync(file, 'utf8');
  const dockerfile = parseDockerfile(text);
  const split = stages(dockerfile);
  const final = split.stages[split.stages.length - 1];
  if (!final) throw new Error(`${file}: no stage`);
  return {
    dir,
    file,
    text,
    dockerfile,
    globalArgs: split.globalArgs,
    stages: split.stages,
    final,
    packages: split.stages.flatMap(stagePackages),
    finalPackages: stagePackages(final),
  };
}

/** Every images/<dir>/Dockerfile. */
export function loadImages(): Image[] {
  return readdirSync(IMAGES_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(IMAGES_DIR, d.name, 'Dockerfile')))
    .map((d) => loadImage(d.name))
    .sort((a, b) => a.dir.localeCompare(b.dir));
}

/** A bash array `NAME=( … )` of scripts/install-debian-packages.sh. */
export function scriptArray(name: string): string[] {
  const text = readFileSync(INSTALL_SCRIPT, 'utf8');
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`${INSTALL_SCRIPT}: no ${name}=( … ) array`);
  return m[1].split('\n').map((l) => l.replace(/#.*/, '')).join(' ').split(/\s+/).filter(Boolean);
}

/** The debconf selections the install script preseeds, by package (`postfix postfix/main_mailer_type select No configuration`). */
export function scriptPreseeds(): { pkg: string; line: string }[] {
  const text = readFileSync(INSTALL_SCRIPT, 'utf8');
  const m = /debconf-set-selections <<'?(\w+)'?\n([\s\S]*?)\n\1\n/.exec(text);
  if (!m?.[2]) throw new Error(`${INSTALL_SCRIPT}: no debconf-set-selections heredoc`);
  return m[2].split('\n').filter((l) => l.trim() !== '').map((line) => ({ pkg: line.split(/\s+/)[0] ?? '', line: line.trim() }));
}

/** The simple commands of a RUN, exec form included. */
export function runCommands(run: Instruction): string[][] {
  const exec = execForm(run.args);
  return exec ? [exec] : shellCommands(run.args);
}

/** Whether a RUN deletes `path` with rm after its (first) apt-get install. */
export function removesAfterInstall(run: Instruction, path: string): boolean {
  const cmds = runCommands(run);
  const install = cmds.findIndex((c) => aptGetInstalls(c.join(' ')).length > 0);
  return install >= 0 && cmds.slice(install + 1).some((c) => c[0] === 'rm' && c.includes(path));
}
