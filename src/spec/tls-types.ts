/** The spec's TLS section: certificates and their issuer. Part of the spec's types (types.ts re-exports them). */

/** One server certificate: the names on it, and where it comes from when not issued by the platform. */
export interface TlsCertificateSpec {
  /** Our name for it: the directory `tls/certs/<name>` on one host, the Secret `<platform>-tls-<name>` in Kubernetes. */
  name: string;
  /** DNS names clients connect to (the first is the subject); the daemons pick this certificate when a client asks for one by SNI. */
  hosts: string[];
  /** `issuer: files`: PEM certificate chain and private key on the single host. */
  certFile?: string;
  keyFile?: string;
  /** Kubernetes: a `kubernetes.io/tls` Secret you manage; no cert-manager Certificate is rendered for it. */
  existingSecret?: string;
}

export type TlsIssuer = 'local' | 'acme' | 'files';

export interface AcmeSpec {
  /** The ACME directory URL. */
  directory: string;
  /** Account contact; optional. */
  email?: string;
  /** Only `http-01` on the single host (the runtime answers it on `http01Listen`); DNS-01 is cert-manager's, in Kubernetes. */
  challenge: 'http-01';
  /** Where the runtime answers HTTP-01 challenges, `host:port`. Default `0.0.0.0:80`. */
  http01Listen: string;
  /** PEM file of CAs to trust for the ACME directory itself (a private ACME server); empty: the system's. */
  caFile?: string;
}

export interface TlsSpec {
  /**
   * Server certificates of `mta`, `msa` and `proxy`. The first is the default, served to clients that send no
   * SNI name or one no certificate lists. Default: one named `default` for `spec.hostname`.
   */
  certificates: TlsCertificateSpec[];
  /** Where the single host gets its certificates: a local CA it creates once (default), an ACME server, or files. */
  issuer: TlsIssuer;
  acme?: AcmeSpec;
  /** Lifetime of certificates the local CA issues. Default 90. */
  validityDays: number;
  /** A certificate is renewed once this share of its lifetime has passed. Default 0.67. */
  renewAfter: number;
  /** How often the single host checks whether a certificate is due. Default 3600. */
  checkSeconds: number;
  /** Key of issued certificates. Default `ecdsa-p256`. */
  keyType: 'ecdsa-p256' | 'rsa-2048';
  /** Oldest protocol accepted on every listener. Default `TLSv1.2`. */
  minProtocol: 'TLSv1.2' | 'TLSv1.3';
  /** Kubernetes: the cert-manager issuer of rendered Certificates, and a Secret to use instead for the default certificate. */
  kubernetes: { issuerRef?: { name: string; kind: 'Issuer' | 'ClusterIssuer'; group: string }; existingSecret?: string };
}
