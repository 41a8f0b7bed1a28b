/**
 * Spam learning on the `mailbox` backends (where IMAP COPY and MOVE run; the proxies only forward). While rspamd
 * runs, Dovecot's imapsieve sends a message a user copies or moves into `Junk` to rspamd's controller as spam, and a
 * message copied out of `Junk` (to anything but `Trash`) as ham; Bayes lives in Redis, so every `as` instance
 * shares what was learned. Mail rspamd tagged `X-Spam: Yes` is filed into `Junk` at delivery (a `sieve_before`
 * script of LMTP).
 *
 * The generated files land in the config dir; the agent moves them into LEARN_DIR (root, group vmail, 0750: the mail
 * processes run as vmail and must read the scripts, the program and the password header), compiles the scripts
 * with sievec there (vmail cannot write next to them, so Dovecot could not save a binary compiled at first use)
 * and makes the program executable. The program gives the controller its password from a file (`curl -H @file`),
 * never on a command line; it is time-limited and always succeeds, so a failed learn never fails the IMAP command.
 */
import { requireSecret } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput } from './context.ts';
import { hostPort } from './rspamd.ts';

/** The directory (under the config dir) holding the sieve scripts, the learn program and its password header. */
export const LEARN_DIR = 'sieve';
/** The program the sieve scripts pipe a message to (`rspamd-learn spam|ham`); the only one in LEARN_DIR that runs. */
export const LEARN_PROGRAM = 'rspamd-learn';
/** The files of LEARN_DIR as the generator names them in the config dir. */
export const LEARN_FILES = ['learn-spam.sieve', 'learn-ham.sieve', 'spam-to-junk.sieve', LEARN_PROGRAM, 'rspamd-learn.headers'] as const;
/** The sieve scripts among LEARN_FILES (compiled by sievec). */
export const LEARN_SCRIPTS = LEARN_FILES.filter((f) => f.endsWith('.sieve'));
/** Seconds one learn request may take (curl's limit; Dovecot's pipe limit is a little longer). */
export const LEARN_TIMEOUT_S = 10;

/** Whether the backends learn: some `as` instance is known (rspamd runs). */
export function learningRuns({ peers }: Pick<ConfigInput, 'peers'>): boolean {
  return (peers.as?.length ?? 0) > 0;
}

/** The Dovecot settings of learning (empty while rspamd does not run). */
export function learnSettings(input: ConfigInput): { lmtpPlugins: string; imapPlugins: string; plugin: string[]; namespace: string[] } {
  if (!learningRuns(input)) return { lmtpPlugins: '', imapPlugins: '', plugin: [], namespace: [] };
  const dir = `${input.instance.configDir}/${LEARN_DIR}`;
  return {
    lmtpPlugins: ' sieve',
    imapPlugins: ' imap_sieve',
    plugin: [
      `  sieve_before = ${dir}/spam-to-junk.sieve`,
      '  sieve_plugins = sieve_imapsieve sieve_extprograms',
      '  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment',
      `  sieve_pipe_bin_dir = ${dir}`,
      `  sieve_pipe_exec_timeout = ${LEARN_TIMEOUT_S + 5}s`,
      // Into Junk (a COPY, a MOVE or an APPEND): spam.
      '  imapsieve_mailbox1_name = Junk',
      '  imapsieve_mailbox1_causes = COPY APPEND',
      `  imapsieve_mailbox1_before = file:${dir}/learn-spam.sieve`,
      // Out of Junk into any other mailbox (the script skips Trash): ham.
      '  imapsieve_mailbox2_name = *',
      '  imapsieve_mailbox2_from = Junk',
      '  imapsieve_mailbox2_causes = COPY',
      `  imapsieve_mailbox2_before = file:${dir}/learn-ham.sieve`,
    ],
    namespace: [
      '  mailbox Junk {',
      '    special_use = \\Junk',
      '    auto = subscribe',
      '  }',
      '  mailbox Trash {',
      '    special_use = \\Trash',
      '    auto = subscribe',
      '  }',
    ],
  };
}

/** The files of learning, named as in LEARN_FILES (none while rspamd does not run). */
export function learnFiles(input: ConfigInput): ConfigFiles {
  if (!learningRuns(input)) return {};
  const { spec, peers, instance } = input;
  const as = peers.as?.[0];
  if (as === undefined) return {};
  const dir = `${instance.configDir}/${LEARN_DIR}`;
  const url = `http://${hostPort(as.host, spec.ports.rspamd)}/learn`;
  return {
    'learn-spam.sieve': ['require ["vnd.dovecot.pipe", "copy", "imapsieve"];', `pipe :copy "${LEARN_PROGRAM}" ["spam"];`, ''].join('\n'),
    'learn-ham.sieve': [
      'require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];',
      'if environment :matches "imap.mailbox" "*" { set "mailbox" "${1}"; }',
      'if string "${mailbox}" "Trash" { stop; }',
      `pipe :copy "${LEARN_PROGRAM}" ["ham"];`,
      '',
    ].join('\n'),
    'spam-to-junk.sieve': ['require ["fileinto"];', 'if header :is "X-Spam" "Yes" { fileinto "Junk"; stop; }', ''].join('\n'),
    [LEARN_PROGRAM]: [
      '#!/bin/sh',
      '# rspamd-learn spam|ham: the message on stdin to rspamd\'s controller. Always exits 0: learning is best effort',
      '# and must never fail the IMAP command; a failure is written to stderr, which Dovecot logs.',
      'case "$1" in spam|ham) ;; *) echo "rspamd-learn: expected spam or ham" >&2; exit 0 ;; esac',
      `out=$(curl -sS --max-time ${LEARN_TIMEOUT_S} -H @${dir}/rspamd-learn.headers --data-binary @- -w ' HTTP %{http_code}' ${url}"$1" 2>&1)`,
      'case "$out" in',
      '  *" HTTP 200") ;;',
      '  *) echo "rspamd-learn: learn$1 failed: $out" | head -c 2000 >&2 ;;',
      'esac',
      'exit 0',
      '',
    ].join('\n'),
    'rspamd-learn.headers': `Password: ${requireSecret(spec, 'filterControllerPassword')}\n`,
  };
}
