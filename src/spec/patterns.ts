/**
 * The patterns spec fields are checked against, shared with the CLI's flag parser. Plain data: this
 * file is a second door of the spec room for callers that must not load the validator (ajv, yaml).
 */
export const DOMAIN_PATTERN = '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$';
export const DOMAIN_PATTERN_LOOSE = '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
/** A mailbox quota: `0` (none) or a whole number with an optional K, M, G or T. */
export const QUOTA_PATTERN = '^(0|[1-9][0-9]*[KMGT]?)$';
export const CIDR_PATTERN = '^(([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}|[0-9a-fA-F:]+/[0-9]{1,3})$';
export const QUANTITY_PATTERN = '^[0-9]+(\\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$';
/** A Kubernetes object name that is also a DNS label (namespaces, Services, Secrets). */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
export const ADDRESS_PATTERN = '^[a-z0-9._+-]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$';
/** Shortest secret accepted from a spec. Generated ones are 43 characters (32 random bytes). */
export const MIN_SECRET_LENGTH = 16;
