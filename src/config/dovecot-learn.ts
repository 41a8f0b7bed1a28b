/**
 * Spam learning on the `mailbox` backends (where IMAP COPY and MOVE run; the proxies only forward). While rspamd
 * runs, Dovecot's imapsieve sends a message a user copies or moves into `Junk` to rspamd's controller as spam, and a
 * message copied out of `Junk` (to anything but `Trash`) as ham; Bayes lives in Redis, so every `as` instance
 * shares what was learned. Mail rspamd tagged `X-Spam: Yes` is filed into `Junk` at delivery (a `sieve_before`
 * script of LMTP).
 *
 * The generated files land in the config dir; the agent moves them into LEARN_DIR (root, group vmail, 0750: the mail
 * processes run as vmail and must read the scripts, the program and the password file), compiles the scripts
 * with sievec there (vmail cannot write next to them, so Dovecot could not save a binary compiled at first use)
 * and makes the program executable. The program is a line of shell running `mailfleet learn spam|ham` (src/cli/learn.ts:
 * every image runs the agent, so node and the CLI are there, where curl is not), which reads the controller password
 * from a file (never on a command line), takes at most the platform's message size, stops after LEARN_TIMEOUT_S
 * and exits non-zero with the reason on stderr when rspamd did not learn: Dovecot logs it, and the IMAP command
 * still succeeds (a failed imapsieve script never fails the COPY or MOVE that ran it).
 *
 * The sieve `pipe` reaches the program through a Dovecot script service (LEARN_SERVICE, a socket in base_dir, the run dir), not
 * by forking it from the imap process: an imap process runs under Dovecot's 256 MB address-space limit, which its
 * children inherit, and Node.js cannot even start under it (V8 reserves about 1.2 GB of address space at start,
 * little of it ever used). The service runs the program as vmail with a limit of its own (LEARN_VSZ_LIMIT_MIB) and
 * at most LEARN_PROCESS_LIMIT at once, so memory stays bounded while many users move mail.
 */
import { requireSecret } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput } from './context.ts';
import { VMAIL_USER } from './dovecot-common.ts';
import { hostPort } from './rspamd.ts';

/** The directory (under the config dir) holding the sieve scripts, the learn program and its password header. */
export const LEARN_DIR = 'sieve';
/** The program the sieve scripts pipe a message to (`rspamd-learn spam|ham`); the only one in LEARN_DIR that runs. */
export const LEARN_PROGRAM = 'rspamd-learn';
/** The file holding rspamd's controller password (its only line), root:vmail 0640 like the rest of LEARN_DIR. */
export const LEARN_PASSWORD_FILE = 'rspamd-learn.password';
/** The files of LEARN_DIR as the generator names them in the config dir. */
export const LEARN_FILES = ['learn-spam.sieve', 'learn-ham.sieve', 'spam-to-junk.sieve', LEARN_PROGRAM, LEARN_PASSWORD_FILE] as const;
/**
 * Stands for the mailfleet launcher (bin/mailfleet) in the learn program; the agent writes its own launcher's path
 * there when it installs the program (`/opt/mailfleet/bin/mailfleet` in the images, the checkout's on one host).
 */
export const LEARN_CLI_TOKEN = '{{mailfleet-cli}}';
/** The sieve scripts among LEARN_FILES (compiled by sievec). */
export const LEARN_SCRIPTS = LEARN_FILES.filter((f) => f.endsWith('.sieve'));
/** Seconds one learn may take, reading the message included (`mailfleet learn --timeout`; Dovecot's pipe limit is a little longer). */
export const LEARN_TIMEOUT_S = 10;
/** The Dovecot script service running the learn program; also its socket's name, which the sieve `pipe` names. */
export const LEARN_SERVICE = LEARN_PROGRAM;
/** The learn service's address-space limit, MiB: what Node.js reserves at start (~1.2 GB) with room to spare. */
export const LEARN_VSZ_LIMIT_MIB = 2048;
/**
 * Learn programs running at once on a backend (each about 60 MB resident, a 1 MB message included); more moves wait for
 * one to end, within the pipe's time limit.
 */
export const LEARN_PROCESS_LIMIT = 10;

/** Whether the backends learn: some `as` instance is known (rspamd runs). */
export function learningRuns({ peers }: Pick<ConfigInput, 'peers'>): boolean {
  return (peers.as?.length ?? 0) > 0;
}

/** The Dovecot settings of learning (empty while rspamd does not run). */
export function learnSettings(input: ConfigInput): { lmtpPlugins: string; imapPlugins: string; plugin: string[]; namespace: string[]; service: string[] } {
  if (!learningRuns(input)) return { lmtpPlugins: '', imapPlugins: '', plugin: [], namespace: [], service: [] };
  const dir = `${input.instance.configDir}/${LEARN_DIR}`;
  return {
    lmtpPlugins: ' sieve',
    imapPlugins: ' imap_sieve',
    plugin: [
      `  sieve_before = ${dir}/spam-to-junk.sieve`,
      '  sieve_plugins = sieve_imapsieve sieve_extprograms',
      '  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment',
      // The program runs behind the learn service's socket (see the top of this file), never forked by imap.
      // Relative to base_dir (Dovecot prefixes it even to an absolute path): the run dir itself.
      '  sieve_pipe_socket_dir = .',
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
    service: [
      `service ${LEARN_SERVICE} {`,
      `  executable = script ${dir}/${LEARN_PROGRAM}`,
      `  user = ${VMAIL_USER}`,
      `  vsz_limit = ${LEARN_VSZ_LIMIT_MIB} M`,
      `  process_limit = ${LEARN_PROCESS_LIMIT}`,
      // In base_dir (the run dir), where Dovecot's master creates its sockets.
      `  unix_listener ${LEARN_SERVICE} {`,
      `    user = ${VMAIL_USER}`,
      '    mode = 0600',
      '  }',
      '}',
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
  const url = `http://${hostPort(as.host, spec.ports.rspamd)}`;
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
      '# rspamd-learn spam|ham: the message on stdin to rspamd\'s controller. Exits 1 with the reason on stderr (Dovecot',
      '# logs it) when rspamd did not learn; the IMAP command succeeds either way.',
      `exec ${LEARN_CLI_TOKEN} learn "$1" --url ${url} --password-file ${dir}/${LEARN_PASSWORD_FILE} --max-bytes ${spec.messageSizeLimit} --timeout ${LEARN_TIMEOUT_S}`,
      '',
    ].join('\n'),
    [LEARN_PASSWORD_FILE]: `${requireSecret(spec, 'filterControllerPassword')}\n`,
  };
}
