/** What the load driver needs from a path under test, whichever way it was brought up. */
export interface DeliveryTarget {
  name: string;
  /** Where smtp-source connects: the MTA's SMTP listener. */
  smtpHost: string;
  smtpPort: number;
  /** Mail storage root: `<mailRoot>/<domain>/<local part>/Maildir`. */
  mailRoot: string;
  /** The platform's state directory, when the path is a `mailfleet up` platform. */
  stateDir?: string;
  /** Where to look when something goes wrong. */
  logs: string;
  /** Daemons the bench started itself, pid → component label for the CPU breakdown (see cpu.ts). */
  cpuRoots(): Map<number, string>;
  /** The processes whose whole trees make up the path: frozen while the other path is timed. */
  processRoots(): number[];
}

export type { Defer } from '../support/cleanup.ts';
