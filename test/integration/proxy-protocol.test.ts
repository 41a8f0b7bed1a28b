/**
 * PROXY protocol is trusted only from the load balancer ranges, and relaying needs authentication
 * whatever a PROXY header claims. A forged header is `PROXY TCP4 0.0.0.0 …` in a pod (whose Postfix
 * listens on 0.0.0.0); on one host the instance's own address plays that part.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openRawDialog, proxyV1 } from '../support/raw-dialog.ts';
import { DOMAIN, HOSTNAME, localCaFile, startPlatform } from '../support/platform.ts';
import { pythonClient } from '../support/tls-clients.ts';
import { until } from '../support/poll.ts';

const POOL = '127.158.0.0/16';
/** The load balancer, and a host outside its range; both outside what the pool hands out first. */
const BALANCER = '127.158.200.1';
const STRANGER = '127.158.200.2';
const LB_PORTS = { smtp: 10025, submission: 10587, imap: 10143, pop3: 10110 };
/** A client address as the balancer would report it. */
const CLIENT = '198.51.100.7';

function isRelayRefusal(reply: string | undefined): boolean {
  return reply !== undefined && /^[45]54 /m.test(reply);
}

test('PROXY protocol and relaying on the single host', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 2,
    roles: { mailbox: 1, proxy: 1, mta: 1, msa: 1, kvs: 0 },
    extra: { loadBalancer: { sourceRanges: [`${BALANCER}/32`], ports: LB_PORTS } },
  });
  const mta = await platform.instance('mta-0');
  const msa = await platform.instance('msa-0');
  const proxy = await platform.instance('proxy-0');

  for (const [what, claimed] of [['0.0.0.0', '0.0.0.0'], ['the instance\'s own address', mta.address]] as const) {
    await t.test(`GIVEN an untrusted peer WHEN it sends a PROXY header claiming ${what} to the mta's balancer port THEN the connection is closed without a greeting`, async () => {
      const dialog = await openRawDialog({ host: mta.address, port: LB_PORTS.smtp, localAddress: STRANGER, preamble: proxyV1(claimed, mta.address, 40000, LB_PORTS.smtp) });
      try {
        const greeting = await dialog.greeting();
        assert.equal(greeting, undefined, `the mta greeted an untrusted PROXY peer: ${greeting}`);
      } finally {
        dialog.close();
      }
    });
  }

  await t.test('GIVEN an untrusted peer WHEN it sends a PROXY header to the msa\'s balancer port THEN the connection is closed without a greeting', async () => {
    const dialog = await openRawDialog({ host: msa.address, port: LB_PORTS.submission, localAddress: STRANGER, preamble: proxyV1('0.0.0.0', msa.address, 40001, LB_PORTS.submission) });
    try {
      assert.equal(await dialog.greeting(), undefined);
    } finally {
      dialog.close();
    }
  });

  for (const [what, claimed] of [['0.0.0.0', '0.0.0.0'], ['the instance\'s own address', mta.address]] as const) {
    await t.test(`GIVEN the load balancer WHEN it forwards a client claiming ${what} THEN mail to a foreign domain is refused (no relay without authentication)`, async () => {
      const dialog = await openRawDialog({ host: mta.address, port: LB_PORTS.smtp, localAddress: BALANCER, preamble: proxyV1(claimed, mta.address, 40002, LB_PORTS.smtp) });
      try {
        assert.match((await dialog.greeting()) ?? '', /^220 /m, 'a greeting ending in a 220 line (postscreen sends two)');
        assert.match((await dialog.command('EHLO client.test')) ?? '', /^250 /m);
        assert.match((await dialog.command('MAIL FROM:<spammer@remote.test>')) ?? '', /^250 /);
        const rcpt = await dialog.command('RCPT TO:<victim@foreign.test>');
        assert.ok(isRelayRefusal(rcpt), `RCPT to a foreign domain through the mta: ${rcpt}`);
      } finally {
        dialog.close();
      }
    });
  }

  await t.test('GIVEN the load balancer WHEN it forwards a client THEN mail for an account is accepted and logged with the client\'s address', async () => {
    const dialog = await openRawDialog({ host: mta.address, port: LB_PORTS.smtp, localAddress: BALANCER, preamble: proxyV1(CLIENT, mta.address, 40003, LB_PORTS.smtp) });
    try {
      assert.match((await dialog.greeting()) ?? '', /^220 /m);
      assert.match((await dialog.command('EHLO client.test')) ?? '', /^250 /m);
      assert.match((await dialog.command('MAIL FROM:<sender@remote.test>')) ?? '', /^250 /);
      assert.match((await dialog.command(`RCPT TO:<user1@${DOMAIN}>`)) ?? '', /^250 /);
      await dialog.command('QUIT');
    } finally {
      dialog.close();
    }
    const log = join(platform.stateDir, 'logs', 'mta-0.log');
    await until('the proxied client address in the mta log', async () => (readFileSync(log, 'utf8').includes(`[${CLIENT}]`) ? true : undefined), 10_000);
  });

  /** A relay attempt on the msa without AUTH, as Python's smtplib makes it: MAIL before STARTTLS, then over TLS. */
  type Relay = { mail_before_tls: { code: number }; starttls: { code: number }; mail: { code: number }; rcpt: { code: number; text: string } };
  const relayAttempt = (port: number, balancer?: { proxy_from: string; client: string }) => pythonClient<Relay>('relay', {
    host: msa.address, port, name: HOSTNAME, ca: localCaFile(platform.stateDir), sender: 'user1@example.com', to: 'victim@foreign.test', ...balancer,
  });
  const assertRelayRefused = (r: Relay & { error?: string }) => {
    assert.equal(r.error, undefined);
    assert.equal(r.mail_before_tls.code, 530, 'nothing before STARTTLS on submission');
    assert.equal(r.starttls.code, 220);
    assert.equal(r.mail.code, 250);
    assert.ok(isRelayRefusal(`${r.rcpt.code} ${r.rcpt.text}`), `RCPT to a foreign domain through the msa: ${r.rcpt.code} ${r.rcpt.text}`);
  };

  await t.test('GIVEN the load balancer WHEN it forwards a client claiming 0.0.0.0 to the msa THEN relaying without AUTH is refused, over TLS as before it', () => {
    assertRelayRefused(relayAttempt(LB_PORTS.submission, { proxy_from: BALANCER, client: '0.0.0.0' }));
  });

  await t.test('GIVEN a client on the msa\'s own port (no PROXY) WHEN it asks to relay without AUTH THEN it is refused, over TLS as before it', () => {
    assertRelayRefused(relayAttempt(msa.ports.submission as number));
  });

  for (const [role, host, port] of [['mta', mta.address, mta.ports.smtp]] as const) {
    await t.test(`GIVEN a client on the ${role}'s own port (no PROXY) WHEN it asks to relay without AUTH THEN it is refused`, async () => {
      const dialog = await openRawDialog({ host, port: port as number, localAddress: STRANGER });
      try {
        assert.match((await dialog.greeting()) ?? '', /^220 /m);
        assert.match((await dialog.command('EHLO client.test')) ?? '', /^250 /m);
        assert.match((await dialog.command('MAIL FROM:<spammer@remote.test>')) ?? '', /^250 /);
        const rcpt = await dialog.command('RCPT TO:<victim@foreign.test>');
        assert.ok(isRelayRefusal(rcpt), `RCPT to a foreign domain: ${rcpt}`);
      } finally {
        dialog.close();
      }
    });
  }

  await t.test('GIVEN Dovecot\'s balancer port WHEN an untrusted peer sends a PROXY header THEN it gets no greeting; the balancer does', async () => {
    const stranger = await openRawDialog({ host: proxy.address, port: LB_PORTS.imap, localAddress: STRANGER, preamble: proxyV1(CLIENT, proxy.address, 40005, LB_PORTS.imap) });
    try {
      const greeting = await stranger.greeting();
      assert.doesNotMatch(greeting ?? '', /^\* OK/, `an untrusted PROXY peer was greeted: ${greeting}`);
    } finally {
      stranger.close();
    }
    const balancer = await openRawDialog({ host: proxy.address, port: LB_PORTS.imap, localAddress: BALANCER, preamble: proxyV1(CLIENT, proxy.address, 40006, LB_PORTS.imap) });
    try {
      assert.match((await balancer.greeting()) ?? '', /^\* OK/);
    } finally {
      balancer.close();
    }
  });
});
