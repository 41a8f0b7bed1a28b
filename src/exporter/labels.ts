/**
 * Label values that come from log text are bounded: each label keeps at most a fixed number of distinct
 * values (later newcomers become `other`), and a value must look like what it claims to be.
 */

/** The value a label gets when its cap is reached or its text is not acceptable. */
export const OTHER = 'other';

export type LabelBound = (value: string) => string;

/** At most `max` distinct values pass (first come, first kept); the rest are `other`. */
export function capped(max: number): LabelBound {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return OTHER;
    seen.add(value);
    return value;
  };
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/;

/** A next hop as a label: a host name (or a transport name for pipe/local), `none`, or `other`. */
export function relayLabel(bound: LabelBound): LabelBound {
  return (relay) => (HOST_NAME.test(relay) ? bound(relay.toLowerCase()) : OTHER);
}
