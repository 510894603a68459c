/**
 * The kit's own small PKI for traffic between its components (today: gpk-scheduler calling the
 * scheduler extender over mutual TLS): an ECDSA P-256 CA and the leaf certificates it signs.
 *
 * `KitCertificate` issues them through a Pulumi dynamic provider, so they live in the stack's
 * state (private keys as secrets) and a stack needs no provider plugin beyond the Node.js one
 * Pulumi ships. The CA's private key never leaves the state: the cluster only ever receives
 * `ca.crt`, so nothing inside it can mint a certificate the extender would trust.
 *
 * Rotation: a leaf is replaced on the first `pulumi up` within `renewBeforeHours` of its end
 * (the provider's diff compares with the clock), and replacing the CA replaces every leaf it
 * signed, because the leaves take the CA's certificate as an input. Force either with
 * `pulumi up --replace <urn>` (docs/scheduler-extender.md).
 *
 * The provider's functions are serialised into the state by @pulumi/pulumi and run in its
 * dynamic-provider process, which loads plain JavaScript: they reach packages with `require`
 * inside their bodies (a module imported at the top would be serialised as a whole) and call
 * nothing outside this file.
 */
import type * as NodeCrypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/** What a certificate is for: a CA signs leaves; a server or client leaf carries that extended key usage. */
export type CertificateUsage = "ca" | "server" | "client";

export interface CertificateSpec {
  /** Subject CN. For a client of the extender, the identity it checks. */
  commonName: string;
  /** DNS subject alternative names (servers). */
  dnsNames?: string[];
  usage: CertificateUsage;
  /** How long the certificate is valid, hours. */
  validityHours: number;
}

export interface KeyPairPem {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface IssuedCertificate extends KeyPairPem {
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the certificate's DER, hex: what a pod annotation carries to roll on rotation. */
  sha256: string;
}

/**
 * Issues `spec`, signed by `issuer`, or self-signed when there is none (a CA): an X.509 v3
 * certificate (RFC 5280 §4.1) with an ECDSA P-256 key, signed ecdsa-with-SHA256, written in
 * DER (X.690) by the small encoder below. node:crypto makes the key and the signature.
 * A CA carries basicConstraints cA (pathLen 0) and keyUsage keyCertSign|cRLSign; a leaf
 * digitalSignature, the serverAuth or clientAuth extended key usage, and its DNS names.
 */
export function issueCertificate(spec: CertificateSpec, issuer?: KeyPairPem, now = new Date()): IssuedCertificate {
  const crypto = require("node:crypto") as typeof NodeCrypto;
  if ((spec.usage === "ca") !== (issuer === undefined)) throw new Error(`${spec.commonName}: a CA is self-signed and a leaf needs an issuer`);
  if (!(spec.validityHours > 0)) throw new Error(`${spec.commonName}: validityHours: expected a positive number, got ${spec.validityHours}`);

  // DER: tag, definite length, content (X.690 §8.1).
  const tlv = (tag: number, ...content: Buffer[]): Buffer => {
    const body = Buffer.concat(content);
    const n = body.length;
    const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
    return Buffer.concat([Buffer.from([tag]), length, body]);
  };
  const seq = (...items: Buffer[]) => tlv(0x30, ...items);
  const oid = (dotted: string): Buffer => {
    const [a, b, ...rest] = dotted.split(".").map(Number);
    const bytes = [a! * 40 + b!];
    for (const arc of rest) {
      const base128 = [arc & 0x7f];
      for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
      bytes.push(...base128);
    }
    return tlv(0x06, Buffer.from(bytes));
  };
  const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));
  // UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  const time = (d: Date) => {
    const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
    return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
  };
  const name = (cn: string) => seq(tlv(0x31, seq(oid("2.5.4.3"), utf8(cn))));
  const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
  const ecdsaWithSha256 = seq(oid("1.2.840.10045.4.3.2"));

  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  // Key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1); the bits are the last 65 bytes of a P-256 SPKI.
  const keyId = (der: Buffer) => crypto.createHash("sha1").update(der.subarray(der.length - 65)).digest();
  const issuerCert = issuer ? new crypto.X509Certificate(issuer.certPem) : undefined;
  const signingKey = issuer ? crypto.createPrivateKey(issuer.keyPem) : privateKey;
  const issuerName = issuerCert ? tbsSubject(issuerCert.raw) : name(spec.commonName);

  const serial = serialNumberFrom(crypto.randomBytes(16));
  // Backdated five minutes, so a node whose clock lags accepts the certificate at once.
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + spec.validityHours * 3_600_000);
  const extensions = [extension("2.5.29.14", false, tlv(0x04, keyId(spki)))];
  if (!issuerCert) {
    extensions.push(
      extension("2.5.29.19", true, seq(tlv(0x01, Buffer.from([0xff])), tlv(0x02, Buffer.from([0])))),
      extension("2.5.29.15", true, tlv(0x03, Buffer.from([0x01, 0x06]))), // keyCertSign (bit 5) | cRLSign (bit 6)
    );
  } else {
    const issuerSpki = issuerCert.publicKey.export({ type: "spki", format: "der" });
    extensions.push(
      extension("2.5.29.35", false, seq(tlv(0x80, keyId(issuerSpki)))),
      extension("2.5.29.19", true, seq()),
      extension("2.5.29.15", true, tlv(0x03, Buffer.from([0x07, 0x80]))), // digitalSignature (bit 0)
      extension("2.5.29.37", false, seq(oid(spec.usage === "server" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"))),
    );
    if (spec.dnsNames?.length) extensions.push(extension("2.5.29.17", false, seq(...spec.dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, "ascii"))))));
  }
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ecdsaWithSha256,
    issuerName,
    seq(time(notBefore), time(notAfter)),
    name(spec.commonName),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = crypto.sign("sha256", tbs, { key: signingKey, dsaEncoding: "der" });
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.from([0]), signature));
  const pem = (label: string, body: Buffer) => `-----BEGIN ${label}-----\n${body.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
  return {
    certPem: pem("CERTIFICATE", der),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    serialNumber: serial.toString("hex"),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    sha256: crypto.createHash("sha256").update(der).digest("hex"),
  };

  /** The subject Name of a DER certificate, as its bytes: a leaf's issuer field must equal it exactly. */
  function tbsSubject(cert: Buffer): Buffer {
    // Certificate → tbsCertificate → [version, serial, signature alg, issuer, validity, subject, ...].
    const read = (buf: Buffer, at: number) => {
      let len = buf[at + 1]!;
      let header = 2;
      if (len & 0x80) {
        const count = len & 0x7f;
        len = 0;
        for (let i = 0; i < count; i++) len = (len << 8) | buf[at + 2 + i]!;
        header = 2 + count;
      }
      return { start: at, contentStart: at + header, end: at + header + len };
    };
    const tbsField = read(cert, read(cert, 0).contentStart);
    let at = tbsField.contentStart;
    for (let field = 0; field < 5; field++) at = read(cert, at).end; // skip version … validity
    const subject = read(cert, at);
    return cert.subarray(subject.start, subject.end);
  }
}

/**
 * A certificate serial from random bytes: positive and minimally encoded as a DER INTEGER
 * (X.690 §8.3.2: no leading zero octet before one below 0x80; Go's crypto/x509 refuses a
 * serial that breaks it), at most 20 octets (RFC 5280 §4.1.2.2).
 */
export function serialNumberFrom(random: Buffer): Buffer {
  const serial = Buffer.from(random);
  serial[0] = (serial[0]! & 0x7f) || 0x01;
  return serial;
}

/** Whether a certificate ending at `notAfter` is due for renewal at `now`. */
export function renewalDue(notAfter: string, renewBeforeHours: number, now = new Date()): boolean {
  const end = Date.parse(notAfter);
  return !Number.isFinite(end) || end - renewBeforeHours * 3_600_000 <= now.getTime();
}

/** Inputs of a KitCertificate as the provider sees them (resolved). */
interface CertificateInputs extends CertificateSpec {
  renewBeforeHours: number;
  issuerCertPem?: string;
  issuerKeyPem?: string;
}

/** Input keys whose change issues a new certificate. */
const REISSUE_ON = ["commonName", "dnsNames", "usage", "validityHours", "issuerCertPem"] as const;

/** Why a certificate must be reissued: the inputs that changed, then `notAfter` when renewal is due. */
export function reissueReasons(olds: Partial<CertificateInputs & IssuedCertificate>, news: CertificateInputs, now = new Date()): string[] {
  const changed: string[] = REISSUE_ON.filter((key) => JSON.stringify(olds[key] ?? null) !== JSON.stringify(news[key] ?? null));
  if (renewalDue(olds.notAfter ?? "", news.renewBeforeHours, now)) changed.push("notAfter");
  return changed;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: CertificateInputs) {
    const issuer = inputs.issuerCertPem && inputs.issuerKeyPem ? { certPem: inputs.issuerCertPem, keyPem: inputs.issuerKeyPem } : undefined;
    const issued = issueCertificate(inputs, issuer);
    return { id: issued.serialNumber, outs: { ...inputs, ...issued } };
  },
  async diff(_id: string, olds: CertificateInputs & IssuedCertificate, news: CertificateInputs) {
    const replaces = reissueReasons(olds, news);
    const changes = replaces.length > 0 || olds.renewBeforeHours !== news.renewBeforeHours;
    return { changes, replaces, deleteBeforeReplace: false };
  },
  async update(_id: string, olds: CertificateInputs & IssuedCertificate, news: CertificateInputs) {
    // Only renewBeforeHours can change in place: the certificate stays.
    return { outs: { ...olds, renewBeforeHours: news.renewBeforeHours } };
  },
};

export interface KitCertificateArgs {
  /** Subject CN. Required. */
  commonName: string;
  /** DNS subject alternative names. Default none. */
  dnsNames?: string[];
  /** `ca`, `server` or `client`. Required. */
  usage: CertificateUsage;
  /** Validity, hours. Default: 87,600 (10 years) for a CA, 8,760 (1 year) for a leaf. */
  validityHours?: number;
  /** Reissue on the first update this close to the end, hours. Default: 720 (30 days); a CA 8,760. */
  renewBeforeHours?: number;
  /** The signing CA; required for a leaf, absent for a CA. */
  issuer?: KitCertificate;
}

export const KIT_CERTIFICATE_DEFAULTS = {
  caValidityHours: 87_600,
  caRenewBeforeHours: 8_760,
  leafValidityHours: 8_760,
  leafRenewBeforeHours: 720,
} as const;

/** A certificate and its private key, issued by the kit's dynamic provider and kept in the stack's state. */
export class KitCertificate extends pulumi.dynamic.Resource {
  declare readonly certPem: pulumi.Output<string>;
  declare readonly keyPem: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;
  declare readonly sha256: pulumi.Output<string>;

  constructor(name: string, args: KitCertificateArgs, opts?: pulumi.CustomResourceOptions) {
    const d = KIT_CERTIFICATE_DEFAULTS;
    const ca = args.usage === "ca";
    if (ca === (args.issuer !== undefined)) throw new pulumi.RunError(`${name}: a CA certificate takes no issuer and a ${args.usage} certificate needs one`);
    super(provider, name, {
      commonName: args.commonName,
      dnsNames: args.dnsNames ?? [],
      usage: args.usage,
      validityHours: args.validityHours ?? (ca ? d.caValidityHours : d.leafValidityHours),
      renewBeforeHours: args.renewBeforeHours ?? (ca ? d.caRenewBeforeHours : d.leafRenewBeforeHours),
      issuerCertPem: args.issuer?.certPem,
      issuerKeyPem: args.issuer ? pulumi.secret(args.issuer.keyPem) : undefined,
      certPem: undefined, keyPem: undefined, notAfter: undefined, sha256: undefined,
    }, { ...opts, additionalSecretOutputs: ["keyPem", "issuerKeyPem"] }, "gpk", "KitCertificate");
  }
}
