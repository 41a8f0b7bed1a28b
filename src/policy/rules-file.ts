import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { errorMessage, MailfleetError } from '../errors.ts';
import { validatePolicyRules } from './rules.ts';
import type { PolicyRules } from './rules-schema.ts';

/** Reads a rules file (YAML, or JSON, which is YAML too) and validates it; problems name the file and field. */
export function loadPolicyRulesFile(file: string): PolicyRules {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 100 });
  } catch (err) {
    throw new MailfleetError('POLICY_RULES_INVALID', `${file}: cannot be read as YAML or JSON: ${errorMessage(err)}`, { cause: err });
  }
  return validatePolicyRules(doc, '', file);
}
