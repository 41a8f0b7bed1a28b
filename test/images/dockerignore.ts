/**
 * Which paths of the repository a `.dockerignore` keeps in the build context, by Docker's rules
 * (moby/patternmatcher): `#` comments, `!` re-includes, `*`, `?` and `**` globs, a pattern matching a
 * path or any of its parent directories, the last matching pattern deciding.
 */

interface Pattern {
  exclusion: boolean;
  regexp: RegExp;
}

function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else {
        re += '.*';
      }
    } else if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '\\' && i + 1 < glob.length) {
      re += `\\${glob[++i]}`;
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`);
}

/** Removes `.` segments, repeated and trailing slashes and a leading `/`, as filepath.Clean would here. */
function clean(path: string): string {
  return path.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

export function parseDockerignore(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclusion = line.startsWith('!');
    if (exclusion) line = line.slice(1).trim();
    const glob = clean(line);
    if (glob === '') continue;
    patterns.push({ exclusion, regexp: globToRegExp(glob) });
  }
  return patterns;
}

/** Whether `path` (relative to the context root) is sent to the builder. */
export function inContext(patterns: Pattern[], path: string): boolean {
  const segments = clean(path).split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const p of patterns) {
    if (prefixes.some((prefix) => p.regexp.test(prefix))) excluded = !p.exclusion;
  }
  return !excluded;
}
