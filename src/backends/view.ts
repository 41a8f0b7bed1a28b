/**
 * What the directors say right now, each asked directly: the ground truth for `status`, and for a
 * scale that returns only once a new backend is routable (or gone). Reading is one `director status`
 * per director; everything after that is pure.
 */
import { errorMessage } from '../errors.ts';
import type { ConnectDirector, Director, DirectorHost } from './types.ts';

/** One director's host list, or why it could not be read. */
export interface DirectorView {
  director: Director;
  hosts?: DirectorHost[];
  error?: string;
}

/** How the directors list one backend (what `status` shows). */
export interface BackendInDirectors {
  state: 'up' | 'down' | 'draining';
  vhosts: number;
  /** Users the first director listing it has assigned to it (directors of a synced ring agree). */
  users: number;
  /** Directors that list it, of `directors` that answered. */
  listedBy: number;
  directors: number;
}

/** Every director's host list, asked in parallel; one that does not answer says why. */
export async function readViews(directors: readonly Director[], connect: ConnectDirector): Promise<DirectorView[]> {
  const sorted = [...directors].sort((a, b) => a.address.localeCompare(b.address));
  return Promise.all(sorted.map(async (director) => {
    try {
      return { director, hosts: await connect(director).list() };
    } catch (err) {
      return { director, error: errorMessage(err) };
    }
  }));
}

const hostState = (h: DirectorHost): BackendInDirectors['state'] => (h.vhosts === 0 ? 'draining' : h.up ? 'up' : 'down');

/** Pure: the backend as the answering directors list it; undefined when none lists it. */
export function backendInDirectors(views: readonly DirectorView[], address: string): BackendInDirectors | undefined {
  const answered = views.filter((v) => v.hosts !== undefined);
  const listing = answered.map((v) => v.hosts?.find((h) => h.address === address)).filter((h): h is DirectorHost => h !== undefined);
  const first = listing[0];
  if (!first) return undefined;
  return { state: hostState(first), vhosts: first.vhosts, users: first.users, listedBy: listing.length, directors: answered.length };
}

/**
 * Pure: why `address` is not routable yet, one line per director; empty once every director answers and
 * lists it up with a weight (new users can land on it whichever proxy they reach). No director at all is a reason too.
 */
export function notRoutable(views: readonly DirectorView[], address: string): string[] {
  if (views.length === 0) return ['no director is ready'];
  const reasons: string[] = [];
  for (const v of views) {
    const where = `director ${v.director.address}`;
    if (v.hosts === undefined) {
      reasons.push(`${where} does not answer: ${v.error ?? 'no reply'}`);
      continue;
    }
    const h = v.hosts.find((x) => x.address === address);
    if (!h) reasons.push(`${where} does not list it`);
    else if (hostState(h) !== 'up') reasons.push(`${where} lists it ${hostState(h)}`);
  }
  return reasons;
}

/** Pure: the directors that answered and still list `address` (none answering lists nothing: nobody routes there). */
export function stillListing(views: readonly DirectorView[], address: string): string[] {
  return views.filter((v) => v.hosts?.some((h) => h.address === address)).map((v) => v.director.address);
}
