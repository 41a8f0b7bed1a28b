import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync, constants } from 'node:fs';
import { basename, join, relative, resolve, isAbsolute } from 'node:path';
import { dashboardFiles } from '../dashboards/index.ts';
import { MailfleetError } from '../errors.ts';
import { parse, usageError } from './args.ts';

const USAGE = 'mailfleet dashboards -o DIR';

/**
 * The path of `name` in `dir`, or OUTPUT_REFUSED when `name` is not a plain file name that stays in
 * `dir` (a separator, `..`, an absolute path).
 */
export function outputPath(dir: string, name: string): string {
  const path = resolve(dir, name);
  const rel = relative(resolve(dir), path);
  if (name !== basename(name) || name === '' || name === '.' || name === '..' || rel !== name || isAbsolute(rel)) {
    throw new MailfleetError('OUTPUT_REFUSED', `refusing to write ${JSON.stringify(name)}: it is not a file in ${dir}`);
  }
  return path;
}

/**
 * Writes `text` to `path` through a new file beside it, renamed over the old one: a symbolic link
 * already at `path` is replaced, never followed out of the directory, and a reader never sees half a file.
 */
function writeReplacing(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, text);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temp, path);
}

/**
 * `mailfleet dashboards -o DIR`: the Grafana dashboards (the same JSON the rendered ConfigMap carries)
 * as one file each in DIR, created if missing, for import; prints the path of every file written.
 */
export async function dashboardsCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { output: { type: 'string', short: 'o' } }, USAGE);
  if (!values.output) throw usageError(USAGE, 'missing -o DIR');
  const dir = values.output;
  mkdirSync(dir, { recursive: true });
  const files = Object.entries(dashboardFiles()).map(([name, text]) => ({ path: outputPath(dir, name), text, shown: join(dir, name) }));
  for (const f of files) writeReplacing(f.path, f.text);
  for (const f of files) process.stdout.write(`${f.shown}\n`);
  process.stderr.write(`mailfleet: wrote ${files.length} Grafana dashboards into ${dir} (data source: pick a Prometheus one in each dashboard's datasource variable)\n`);
  return 0;
}
