/**
 * YAML output for the third-party configs (VictoriaMetrics, Alertmanager, Loki, promtail): one set of
 * options, so the same value always gives the same bytes. Keys keep the order the generator wrote
 * them in (the order the tools' documentation uses); maps built from input are sorted by the caller.
 */
import { stringify } from 'yaml';

export function configYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false, sortMapEntries: false });
}

/** A map with its keys in code-point order (labels from a spec or an option). */
export function sortedMap(map: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
