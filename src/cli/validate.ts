import { stringify } from 'yaml';
import { loadSpecFile } from '../spec/index.ts';
import { parse, usageError } from './args.ts';

const USAGE = 'mailfleet validate -f SPEC';

/** Validates a spec; prints the effective spec (defaults filled in) as YAML. */
export async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { file: { type: 'string', short: 'f' } }, USAGE);
  if (!values.file) throw usageError(USAGE, 'missing -f SPEC');
  const platform = loadSpecFile(values.file);
  process.stdout.write(stringify(platform, { sortMapEntries: false }));
  return 0;
}
