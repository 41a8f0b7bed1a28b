/**
 * A small, pure Dockerfile reader for the image tests: no Docker engine runs here, so the Dockerfiles are
 * checked as text. It follows the Dockerfile reference for what the images use — parser directives
 * (`syntax`, `escape`, `check`), comments, line continuations (comment and empty lines inside them
 * dropped), exec-form JSON, `--flag=value` options, ENV/LABEL/ARG key-values — and refuses what it does
 * not understand (unknown instructions, heredocs) instead of guessing.
 */

export const INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;
export type Keyword = (typeof INSTRUCTIONS)[number];

const DIRECTIVES = new Set(['syntax', 'escape', 'check']);
/** Instructions whose leading `--name[=value]` words are options, not arguments. */
const WITH_FLAGS = new Set<Keyword>(['ADD', 'COPY', 'FROM', 'RUN', 'HEALTHCHECK']);

export type DockerfileErrorCode = 'DOCKERFILE_SYNTAX' | 'DOCKERFILE_UNSUPPORTED';

export class DockerfileError extends Error {
  readonly code: DockerfileErrorCode;
  readonly line: number;
  constructor(code: DockerfileErrorCode, line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'DockerfileError';
    this.code = code;
    this.line = line;
  }
}

export interface Instruction {
  keyword: Keyword;
  /** Options before the arguments (`COPY --from=build`, `RUN --mount=…`); a bare `--flag` maps to ''. */
  flags: Record<string, string>;
  /** The arguments, continuation lines joined, trimmed. */
  args: string;
  /** First physical line (1-based). */
  line: number;
}

export interface Dockerfile {
  directives: Record<string, string>;
  instructions: Instruction[];
}

export interface Stage {
  /** The image or earlier stage this one starts from, as written (`${MAILFLEET_IMAGE}` is not expanded). */
  base: string;
  /** `AS name`, lower-cased as Docker treats it. */
  name?: string;
  from: Instruction;
  /** Instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

const DIRECTIVE_LINE = /^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$/;
const INSTRUCTION_LINE = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/;
const HEREDOC = /<<-?\s*["']?[A-Za-z_][A-Za-z0-9_]*["']?/;

function isComment(line: string): boolean {
  return /^\s*#/.test(line);
}

/** Parser directives: `# name=value` lines at the very top, before any other line (blank lines included). */
function readDirectives(lines: string[]): { directives: Record<string, string>; next: number } {
  const directives: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_LINE.exec(lines[i] ?? '');
    const name = m?.[1]?.toLowerCase();
    if (!m || name === undefined || !DIRECTIVES.has(name)) break;
    if (name in directives) throw new DockerfileError('DOCKERFILE_SYNTAX', i + 1, `parser directive ${name} given twice`);
    directives[name] = m[2] ?? '';
  }
  return { directives, next: i };
}

function splitFlags(keyword: Keyword, rest: string): { flags: Record<string, string>; args: string } {
  const flags: Record<string, string> = {};
  let args = rest;
  if (!WITH_FLAGS.has(keyword)) return { flags, args };
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(args);
    if (!m || m[1] === undefined) break;
    flags[m[1]] = m[2] ?? '';
    args = args.slice(m[0].length);
  }
  return { flags, args };
}

/** Parses Dockerfile text into instructions. Throws DockerfileError on what Docker would reject or this reader cannot judge. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  const { directives, next } = readDirectives(lines);
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') throw new DockerfileError('DOCKERFILE_SYNTAX', 1, `escape must be \\ or \`, not ${escape}`);
  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);

  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  const finish = () => {
    if (!pending) return;
    const { text: logical, line } = pending;
    pending = undefined;
    const m = INSTRUCTION_LINE.exec(logical);
    const word = m?.[1]?.toUpperCase();
    if (!m || word === undefined || !(INSTRUCTIONS as readonly string[]).includes(word)) {
      throw new DockerfileError('DOCKERFILE_SYNTAX', line, `unknown instruction: ${JSON.stringify(logical.trim().slice(0, 40))}`);
    }
    const keyword = word as Keyword;
    const { flags, args } = splitFlags(keyword, (m[2] ?? '').trim());
    if ((keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') && HEREDOC.test(args)) {
      throw new DockerfileError('DOCKERFILE_UNSUPPORTED', line, `${keyword} with a heredoc`);
    }
    instructions.push({ keyword, flags, args: args.trim(), line });
  };

  for (let i = next; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (pending === undefined) {
      if (raw.trim() === '' || isComment(raw)) continue;
      pending = { text: '', line: i + 1 };
    } else if (raw.trim() === '' || isComment(raw)) {
      // Inside a continuation Docker drops comment lines and (deprecated) empty lines.
      continue;
    }
    if (continuation.test(raw)) {
      pending.text += raw.replace(continuation, '');
    } else {
      pending.text += raw;
      finish();
    }
  }
  // A continuation on the last line ends the instruction, as Docker does.
  finish();
  return { directives, instructions };
}

/** The exec form of CMD/ENTRYPOINT/RUN/SHELL/VOLUME: a JSON array of strings; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    return undefined;
  }
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** Splits words the way Docker's ENV/LABEL/ARG parser does: whitespace outside quotes, quotes removed, `\` escapes. */
export function words(text: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new DockerfileError('DOCKERFILE_SYNTAX', 0, `unterminated ${quote} in ${JSON.stringify(text.slice(0, 40))}`);
  if (inWord) out.push(word);
  return out;
}

/** `ENV`/`LABEL` pairs: `k=v k2="v 2"`, or the legacy `ENV k the rest is the value`. */
export function keyValues(instruction: Instruction): [string, string][] {
  const { keyword, args } = instruction;
  const list = words(args);
  if (keyword === 'ENV' && list.length > 0 && !list[0]?.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(args);
    if (!m?.[1]) throw new DockerfileError('DOCKERFILE_SYNTAX', instruction.line, 'ENV needs a value');
    return [[m[1], words(m[2] ?? '').join(' ')]];
  }
  return list.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new DockerfileError('DOCKERFILE_SYNTAX', instruction.line, `${keyword} expects name=value, got ${JSON.stringify(w)}`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** `ARG name` or `ARG name=default` (several per line allowed); the default is undefined when none is given. */
export function argDeclarations(instruction: Instruction): { name: string; value: string | undefined }[] {
  return words(instruction.args).map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? { name: w, value: undefined } : { name: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Global ARGs (before the first FROM) and the build stages. */
export function stages(dockerfile: Dockerfile): { globalArgs: Instruction[]; stages: Stage[] } {
  const globalArgs: Instruction[] = [];
  const out: Stage[] = [];
  for (const ins of dockerfile.instructions) {
    if (ins.keyword === 'FROM') {
      const w = words(ins.args);
      const [base] = w;
      if (base === undefined || (w.length !== 1 && !(w.length === 3 && w[1]?.toUpperCase() === 'AS'))) {
        throw new DockerfileError('DOCKERFILE_SYNTAX', ins.line, `FROM expects IMAGE [AS NAME], got ${JSON.stringify(ins.args)}`);
      }
      out.push({ base, ...(w[2] ? { name: w[2].toLowerCase() } : {}), from: ins, instructions: [] });
    } else if (out.length === 0) {
      if (ins.keyword !== 'ARG') throw new DockerfileError('DOCKERFILE_SYNTAX', ins.line, `${ins.keyword} before the first FROM`);
      globalArgs.push(ins);
    } else {
      out[out.length - 1]?.instructions.push(ins);
    }
  }
  if (out.length === 0) throw new DockerfileError('DOCKERFILE_SYNTAX', 1, 'no FROM');
  return { globalArgs, stages: out };
}

/**
 * Simple commands of a shell script: words split at `;`, `&`, `&&`, `|`, `||` and newlines, quotes
 * removed. `$(…)` and backquotes stay inside their word. Enough to find `apt-get install` and its words;
 * not a shell.
 */
export function shellCommands(script: string): string[][] {
  const commands: string[][] = [];
  let current: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) current.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (current.length > 0) commands.push(current);
    current = [];
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i] ?? '';
    if (c === "'") {
      const end = script.indexOf("'", i + 1);
      if (end < 0) throw new DockerfileError('DOCKERFILE_SYNTAX', 0, 'unterminated \' in a shell command');
      word += script.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < script.length && script[j] !== '"'; j++) {
        if (script[j] === '\\' && j + 1 < script.length) {
          word += script[++j];
        } else if (script[j] === '$' && script[j + 1] === '(') {
          const end = substitutionEnd(script, j + 2);
          word += script.slice(j, end + 1);
          j = end;
        } else {
          word += script[j];
        }
      }
      if (j >= script.length) throw new DockerfileError('DOCKERFILE_SYNTAX', 0, 'unterminated " in a shell command');
      inWord = true;
      i = j;
    } else if (c === '$' && script[i + 1] === '(') {
      const end = substitutionEnd(script, i + 2);
      word += script.slice(i, end + 1);
      inWord = true;
      i = end;
    } else if (c === '\\' && i + 1 < script.length) {
      word += script[++i];
      inWord = true;
    } else if (c === ';' || c === '&' || c === '|' || c === '\n') {
      endCommand();
    } else if (/\s/.test(c)) {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}

/** Index of the `)` closing a `$(` whose body starts at `start`, skipping quoted text. */
function substitutionEnd(script: string, start: number): number {
  let depth = 1;
  let quote: string | undefined;
  for (let i = start; i < script.length; i++) {
    const c = script[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '(') {
      depth++;
    } else if (c === ')' && --depth === 0) {
      return i;
    }
  }
  throw new DockerfileError('DOCKERFILE_SYNTAX', 0, 'unterminated $( in a shell command');
}

export interface AptInstall {
  /** Options given to apt-get (`-y`, `--no-install-recommends`, `-o` values…). */
  options: string[];
  packages: string[];
  /** `NAME=value` assignments before apt-get on the same command. */
  env: Record<string, string>;
}

/** apt-get options that take the next word as their value. */
const APT_OPTIONS_WITH_VALUE = new Set(['-o', '--option', '-c', '--config-file', '-t', '--target-release', '--default-release']);

/** Every `apt-get install` in a shell script, with its options and package names. */
export function aptGetInstalls(script: string): AptInstall[] {
  const out: AptInstall[] = [];
  for (const command of shellCommands(script)) {
    const env: Record<string, string> = {};
    let i = 0;
    for (; i < command.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(command[i] ?? ''); i++) {
      const w = command[i] ?? '';
      env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    }
    if (!/(^|\/)apt-get$/.test(command[i] ?? '')) continue;
    const options: string[] = [];
    const operands: string[] = [];
    for (let j = i + 1; j < command.length; j++) {
      const w = command[j] ?? '';
      if (w.startsWith('-')) {
        options.push(w);
        if (APT_OPTIONS_WITH_VALUE.has(w) && j + 1 < command.length) options.push(command[++j] ?? '');
      } else {
        operands.push(w);
      }
    }
    if (operands[0] !== 'install') continue;
    out.push({ options, packages: operands.slice(1), env });
  }
  return out;
}

/** Whether apt-get's options answer yes to every question: `-y`, `--yes`, `--assume-yes` or a short cluster with y (`-qy`). */
export function assumesYes(options: string[]): boolean {
  return options.some((o) => o === '--yes' || o === '--assume-yes' || /^-[a-zA-Z]*y[a-zA-Z]*$/.test(o));
}
