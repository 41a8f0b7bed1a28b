/** A mailbox backend as a source sees it (an EndpointSlice endpoint, or a single-host endpoint event). */
export interface Backend {
  /** Stable identity: pod name (`mailbox-2`). */
  name: string;
  /** IP address the director routes to. */
  address: string;
  ready: boolean;
  terminating: boolean;
  /** When the source first saw this endpoint ready (ms since epoch), for sync-latency measurement. */
  readySince?: number;
}

/** One host in the director's list (`directorStatus`). */
export interface DirectorHost {
  address: string;
  vhosts: number;
  up: boolean;
  users: number;
}

/** What the controller remembers about a backend it is draining. */
export interface DrainState {
  since: number;
  flushed: boolean;
}

export type Step =
  | { op: 'add'; address: string; vhosts: number; reason: string }
  | { op: 'update'; address: string; vhosts: number; reason: string }
  | { op: 'up'; address: string; reason: string }
  | { op: 'down'; address: string; reason: string }
  | { op: 'flush'; address: string; reason: string }
  | { op: 'remove'; address: string; reason: string };

/** Desired state: where backends come from. `changes` fires whenever a reconcile may be needed. */
export interface BackendSource {
  /** Every known mailbox endpoint, or undefined while the source has not synced yet. */
  list(): Backend[] | undefined;
  onChange(listener: () => void): void;
  start(signal: AbortSignal): Promise<void>;
}

/** Actual state and the place changes are applied: the director ring, through any one of its members. */
export interface DirectorSink {
  list(): Promise<DirectorHost[]>;
  apply(step: Step): Promise<void>;
}

/** One director (a proxy's), asked directly: its own view of the hosts and of the ring. */
export interface DirectorMember extends DirectorSink {
  /** Director addresses in this director's ring list, itself included (`director ring status`). */
  ring(): Promise<string[]>;
  /** `director ring add`: lets the director at `address` into this director's ring. */
  ringAdd(address: string): Promise<void>;
  /** `director ring remove`: drops the director at `address` from this director's ring. */
  ringRemove(address: string): Promise<void>;
}

/** Where one director is now: the address its ring listens on and its doveadm HTTP API. */
export interface Director {
  address: string;
  /** `http://host:port` (a pod's stable DNS name in Kubernetes, an address on one host). */
  url: string;
}

/** The directors to talk to, asked again on every use: proxies move. */
export type DirectorLocator = () => Director[] | Promise<Director[]>;

/** A client for one director: doveadm HTTP for real proxies, or an in-memory ring in tests. */
export type ConnectDirector = (director: Director) => DirectorMember;
