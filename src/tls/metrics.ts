import { Counter, Gauge, Registry } from 'prom-client';

export interface TlsMetrics {
  registry: Registry;
  expiry: Gauge<'certificate'>;
  issued: Gauge<'certificate'>;
  renewals: Counter<'certificate' | 'issuer' | 'result'>;
  standIn: Gauge<'certificate'>;
}

/** Metrics of certificate issuance and renewal on the single host (in the registry given, or their own). */
export function createTlsMetrics(registry = new Registry()): TlsMetrics {
  return {
    registry,
    expiry: new Gauge({ name: 'mailfleet_tls_certificate_expiry_timestamp_seconds', help: 'notAfter of the certificate being served, as a Unix time.', labelNames: ['certificate'], registers: [registry] }),
    issued: new Gauge({ name: 'mailfleet_tls_certificate_issued_timestamp_seconds', help: 'notBefore of the certificate being served, as a Unix time.', labelNames: ['certificate'], registers: [registry] }),
    renewals: new Counter({
      name: 'mailfleet_tls_certificate_renewals_total',
      help: 'Certificate issuance attempts, by certificate, issuer (local, acme, files) and result (success, failure).',
      labelNames: ['certificate', 'issuer', 'result'],
      registers: [registry],
    }),
    standIn: new Gauge({
      name: 'mailfleet_tls_certificate_stand_in',
      help: '1 while the certificate served is a stand-in from the local CA because its issuer has not delivered one yet.',
      labelNames: ['certificate'],
      registers: [registry],
    }),
  };
}
