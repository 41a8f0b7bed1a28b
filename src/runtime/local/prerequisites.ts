import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MailfleetError } from '../../errors.ts';

const INSTALL_HINT = 'install with: sudo scripts/install-debian-packages.sh';

/** Files the single host needs, with the Debian package that ships each. */
const PROGRAMS: { path: string; pkg: string }[] = [
  { path: '/usr/sbin/postfix', pkg: 'postfix' },
  { path: '/usr/lib/postfix/sbin/master', pkg: 'postfix' },
  { path: '/usr/lib/postfix/postfix-ldap.so', pkg: 'postfix-ldap' },
  { path: '/usr/sbin/dovecot', pkg: 'dovecot-core' },
  { path: '/usr/lib/dovecot/director', pkg: 'dovecot-core' },
  { path: '/usr/lib/dovecot/imap', pkg: 'dovecot-imapd' },
  { path: '/usr/lib/dovecot/pop3', pkg: 'dovecot-pop3d' },
  { path: '/usr/lib/dovecot/lmtp', pkg: 'dovecot-lmtpd' },
  { path: '/usr/lib/dovecot/modules/auth/libauthdb_ldap.so', pkg: 'dovecot-ldap' },
  { path: '/usr/sbin/slapd', pkg: 'slapd' },
  { path: '/usr/sbin/slapadd', pkg: 'slapd' },
  { path: '/usr/bin/redis-server', pkg: 'redis-server' },
  { path: '/usr/bin/script', pkg: 'bsdutils' },
  { path: '/usr/bin/victoria-metrics', pkg: 'victoria-metrics' },
  { path: '/usr/bin/vmalert', pkg: 'victoria-metrics' },
];

/** Needed only when the spec names an alert webhook (`spec.local.alertWebhookUrl`). */
const ALERTMANAGER = { path: '/usr/bin/prometheus-alertmanager', pkg: 'prometheus-alertmanager' };

/** Needed only while the spec runs the filter roles: rspamd (`as`), clamd (`av`), each with its account. */
const FILTER_PROGRAMS = { as: { path: '/usr/bin/rspamd', pkg: 'rspamd' }, av: { path: '/usr/sbin/clamd', pkg: 'clamav-daemon' } } as const;
const FILTER_ACCOUNTS = { as: { name: '_rspamd', pkg: 'rspamd' }, av: { name: 'clamav', pkg: 'clamav-base' } } as const;

/** What a spec needs beyond the mail roles: Alertmanager, rspamd, clamd. */
export interface OptionalPrerequisites {
  alerting?: boolean;
  /** rspamd runs (`filterRuns`). */
  antispam?: boolean;
  /** clamd runs (`antivirusRuns`). */
  antivirus?: boolean;
}

/** System accounts the daemons run as; all but `vmail` come with the packages. */
const ACCOUNTS: { name: string; pkg: string }[] = [
  { name: 'postfix', pkg: 'postfix' },
  { name: 'dovecot', pkg: 'dovecot-core' },
  { name: 'dovenull', pkg: 'dovecot-core' },
  { name: 'openldap', pkg: 'slapd' },
];

function accountExists(name: string): boolean {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Everything missing, each with how to get it. Empty when the host is ready. `alerting`: Alertmanager is needed too. */
export function missingPrerequisites(needs: boolean | OptionalPrerequisites = false): string[] {
  const { alerting = false, antispam = false, antivirus = false } = typeof needs === 'boolean' ? { alerting: needs } : needs;
  const programs = [...PROGRAMS, ...(alerting ? [ALERTMANAGER] : []), ...(antispam ? [FILTER_PROGRAMS.as] : []), ...(antivirus ? [FILTER_PROGRAMS.av] : [])];
  const accounts = [...ACCOUNTS, ...(antispam ? [FILTER_ACCOUNTS.as] : []), ...(antivirus ? [FILTER_ACCOUNTS.av] : [])];
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not running as root: mail daemons bind privileged ports and switch users; run with sudo');
  for (const p of programs) if (!existsSync(p.path)) problems.push(`${p.path} is missing (Debian package ${p.pkg}); ${INSTALL_HINT}`);
  for (const a of accounts) if (!accountExists(a.name)) problems.push(`system user ${a.name} is missing (created by package ${a.pkg}); ${INSTALL_HINT}`);
  return problems;
}

export function checkPrerequisites(needs: boolean | OptionalPrerequisites = false): void {
  const problems = missingPrerequisites(needs);
  if (problems.length > 0) {
    const code = problems[0]?.startsWith('not running as root') && problems.length === 1 ? 'NOT_ROOT' : 'PREREQUISITE_MISSING';
    throw new MailfleetError(code, `this host cannot run the platform yet (${problems.length} problem(s))`, { details: problems });
  }
}

const MAIL_USER_ATTEMPTS = 5;

/** The owner of mail storage: created on first start like a package would, since no package ships it. */
export function ensureMailUser(): boolean {
  // Two platforms starting at once on a new host both find no vmail: one useradd wins, the other fails (the name is
  // taken, or the password file is locked for a moment). What counts is that the account exists after.
  for (let attempt = 1; ; attempt++) {
    if (accountExists('vmail')) return false;
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'vmail'], { stdio: ['ignore', 'ignore', 'pipe'] });
      return true;
    } catch (err) {
      if (accountExists('vmail')) return false;
      if (attempt >= MAIL_USER_ATTEMPTS) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

/**
 * Mail daemons drop root (vmail, postfix, openldap): every directory above the state directory must be
 * searchable by others, or Dovecot cannot reach mail storage (a checkout under /root, mode 0700, is the usual case).
 */
export function checkStateDirReachable(stateDir: string): void {
  const problems: string[] = [];
  let dir = dirname(stateDir);
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) problems.push(`${dir} is not searchable by other users (mode ${(statSync(dir).mode & 0o777).toString(8)}); choose a state directory elsewhere (--state-dir /var/lib/mailfleet) or chmod o+x ${dir}`);
    } catch {
      // a parent that does not exist yet is created with mode 0755
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (problems.length > 0) throw new MailfleetError('PREREQUISITE_MISSING', `the mail daemons could not reach ${stateDir}`, { details: problems });
}
