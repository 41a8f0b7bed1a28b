import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MailfleetError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with usage errors turned into USAGE (exit status 2). */
export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new MailfleetError('USAGE', `${(err as Error).message}\nusage: ${usage}`, { cause: err });
  }
}

export function usageError(usage: string, why: string): MailfleetError {
  return new MailfleetError('USAGE', `${why}\nusage: ${usage}`);
}

export const STATE_DIR_OPTION = { 'state-dir': { type: 'string' as const, short: 's' } };
export const SPEC_OPTION = { file: { type: 'string' as const, short: 'f' } };
