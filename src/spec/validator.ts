/**
 * The JSON-schema validator of PLATFORM_SCHEMA. Compiling the schema with ajv costs a process about 18 MB that it
 * keeps, and every agent (PID 1 of every pod) validates its spec: so scripts/build turns the compiled validator into
 * ajv's standalone code next to the compiled sources (dist/spec/platform-validator.cjs), and the compiled CLI loads
 * that (about 1 MB). Sources run directly (tests) compile the schema here instead: same schema, same options.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Options, ValidateFunction } from 'ajv';
import { PLATFORM_SCHEMA } from './schema.ts';
import type { MailPlatform } from './types.ts';

const require = createRequire(import.meta.url);

/** Where scripts/build writes the standalone validator, beside this module's compiled form. */
export const STANDALONE_VALIDATOR = new URL('./platform-validator.cjs', import.meta.url);

const AJV_OPTIONS: Options = { useDefaults: 'empty', allErrors: true, strict: true, allowUnionTypes: true };

/** ajv is loaded only here: a process that finds the standalone validator never loads it. */
function compile(options: Options): { ajv: import('ajv').Ajv; validate: ValidateFunction<MailPlatform> } {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv(options);
  return { ajv, validate: ajv.compile<MailPlatform>(PLATFORM_SCHEMA) };
}

let validator: ValidateFunction<MailPlatform> | undefined;

/** The validator: the build's standalone code when present, else compiled now. Fills defaults in place. */
export function platformValidator(): ValidateFunction<MailPlatform> {
  validator ??= existsSync(STANDALONE_VALIDATOR)
    ? (require(fileURLToPath(STANDALONE_VALIDATOR)) as ValidateFunction<MailPlatform>)
    : compile(AJV_OPTIONS).validate;
  return validator;
}

/** Writes the standalone validator (scripts/build runs this on the compiled sources). */
export function writeStandaloneValidator(file: string | URL = STANDALONE_VALIDATOR): void {
  const { ajv, validate } = compile({ ...AJV_OPTIONS, code: { source: true } });
  const { default: standaloneCode } = require('ajv/dist/standalone/index.js') as typeof import('ajv/dist/standalone/index.js');
  writeFileSync(file, standaloneCode(ajv, validate));
}
