/**
 * The `mta` section of the spec, as a type only (no imports): types.ts names it and mta.ts, whose checks import the
 * network parser and through it types.ts, reads it, without a cycle.
 *
 * The inbound MX (`mta`) beyond its replicas (`spec.roles.mta`). */
export interface MtaSpec {
  /**
   * postscreen in front of the smtpd processes on port 25 and on the balancer's port: one process holds every new
   * connection, sends the first line of a multi-line greeting and waits; a client that talks before its turn
   * (a bot: "pregreet"), or whose blocklist score reaches the threshold, is refused at RCPT with 550 and never
   * takes an smtpd process; one that waits its turn is handed to smtpd and remembered (`PASS NEW`; for a day after
   * each pass, `PASS OLD`, handed over at once). The cache lives in the instance's data directory (its volume in
   * Kubernetes). No test after the greeting (pipelining, non-SMTP commands, bare newlines) runs: those make
   * every new sender "try again later" once, which delays first-time mail by minutes. The health-check smtpd
   * (`ports.smtpHealth`) never goes through it.
   */
  postscreen: {
    /** Default true; false hands port 25 straight to smtpd. */
    enabled: boolean;
    /**
     * Seconds a new client waits for the greeting (`postscreen_greet_wait`), during which it must stay silent and
     * the blocklists answer. Once per client address per day. 1 to 60; default 6 (Postfix's).
     */
    greetWaitSeconds: number;
    /**
     * DNS blocklists (`postscreen_dnsbl_sites`): each listing adds the site's `weight` (default 1; negative for an
     * allow list) to the client's score when its answer matches `reply` (default any, e.g. `127.0.0.[2..11]`), and a
     * score of `threshold` (default 1) or more is refused. Default none: an ISP adds the lists it subscribes to (and
     * asks them through its own resolver; public lists refuse queries from large public resolvers). A platform
     * without a way to the Internet (as in the tests here) names none.
     */
    dnsbl: { sites: { domain: string; reply?: string; weight: number }[]; threshold: number };
    /**
     * Client networks postscreen lets through untested (`postscreen_access_list` permit; logged `ALLOWLISTED`),
     * besides `spec.relayNetworks`: e.g. partners' MTAs, or the platform's own prober where its network is known.
     * Default none.
     */
    allowNetworks: string[];
    /** Client networks refused at once with 521 (`postscreen_access_list` reject; logged `DENYLISTED`). Default none. */
    denyNetworks: string[];
    /** Connections one client address may hold in postscreen and smtpd together (0: no limit). Default 50, smtpd's. */
    connectionCountLimit: number;
    /**
     * Connections waiting in postscreen for their tests or for an smtpd process, at most; past it a newcomer is
     * told 421 (all server ports busy). Default 200, the number of smtpd processes.
     */
    preQueueLimit: number;
  };
}
