/**
 * The kit's PKI (components/kit-pki.ts): what it issues, read back with node:crypto's X.509
 * parser (OpenSSL) — chain, CA flag, extended key usage, names, validity — and when the
 * dynamic provider reissues. That Go's crypto/x509 accepts the same certificates is shown by
 * the real kube-scheduler in test/e2e/30-scheduling.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { issueCertificate, reissueReasons, renewalDue, serialNumberFrom } from "../../components/kit-pki";

const NOW = new Date("2026-11-27T09:00:00Z");
const ca = issueCertificate({ commonName: "gpk-kit-ca", usage: "ca", validityHours: 87_600 }, undefined, NOW);
const server = issueCertificate({ commonName: "gpk-scheduler-extender", usage: "server", dnsNames: ["ext.gpk-system.svc", "ext.gpk-system.svc.cluster.local"], validityHours: 8_760 }, ca, NOW);
const client = issueCertificate({ commonName: "gpk-scheduler", usage: "client", validityHours: 24 }, ca, NOW);

describe("issueCertificate", () => {
  it("a self-signed CA valid for its hours, backdated five minutes", () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe("CN=gpk-kit-ca");
    expect(cert.issuer).toBe("CN=gpk-kit-ca");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(new Date(cert.validFrom).toISOString()).toBe("2026-11-27T08:55:00.000Z");
    expect(new Date(cert.validTo).toISOString()).toBe("2036-11-24T09:00:00.000Z");
    expect(ca.notAfter).toBe("2036-11-24T09:00:00.000Z");
    expect(cert.serialNumber.toLowerCase()).toBe(ca.serialNumber);
  });

  it("leaves signed by the CA, with their names and one extended key usage each", () => {
    const caCert = new X509Certificate(ca.certPem);
    const s = new X509Certificate(server.certPem);
    const c = new X509Certificate(client.certPem);
    for (const leaf of [s, c]) {
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(caCert)).toBe(true);
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(leaf.issuer).toBe("CN=gpk-kit-ca");
    }
    expect(s.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(c.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(s.checkHost("ext.gpk-system.svc")).toBe("ext.gpk-system.svc");
    expect(s.checkHost("ext.gpk-system.svc.cluster.local")).toBe("ext.gpk-system.svc.cluster.local");
    expect(s.checkHost("other.gpk-system.svc")).toBeUndefined();
    expect(c.subject).toBe("CN=gpk-scheduler");
    // A certificate from another CA does not chain.
    const other = issueCertificate({ commonName: "other", usage: "ca", validityHours: 1 });
    expect(c.checkIssued(new X509Certificate(other.certPem))).toBe(false);
  });

  it("hands out the private key of the certificate, P-256 in PKCS#8, and a fingerprint of the DER", () => {
    const key = createPrivateKey(client.keyPem);
    expect(key.asymmetricKeyDetails).toEqual({ namedCurve: "prime256v1" });
    expect(client.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const fromKey = createPublicKey(key).export({ type: "spki", format: "der" });
    expect(new X509Certificate(client.certPem).publicKey.export({ type: "spki", format: "der" })).toEqual(fromKey);
    expect(new X509Certificate(client.certPem).fingerprint256.replace(/:/g, "").toLowerCase()).toBe(client.sha256);
    expect(issueCertificate({ commonName: "gpk-scheduler", usage: "client", validityHours: 24 }, ca, NOW).sha256).not.toBe(client.sha256);
  });

  it("writes GeneralizedTime past 2049, keeps the CN as given, and refuses a leaf without an issuer", () => {
    const long = new X509Certificate(issueCertificate({ commonName: "a,b=c", usage: "ca", validityHours: 40 * 8_760 }, undefined, NOW).certPem);
    expect(new Date(long.validTo).getUTCFullYear()).toBe(2066);
    expect(long.subject).toBe("CN=a\\,b=c"); // the value as written; OpenSSL escapes the comma when it prints it
    expect(() => issueCertificate({ commonName: "x", usage: "client", validityHours: 1 })).toThrow("x: a CA is self-signed and a leaf needs an issuer");
    expect(() => issueCertificate({ commonName: "x", usage: "ca", validityHours: 0 })).toThrow("x: validityHours: expected a positive number, got 0");
  });
});

describe("serial numbers", () => {
  it("are positive and minimally encoded DER integers, whatever the random bytes", () => {
    const hex = (first: number) => serialNumberFrom(Buffer.from([first, 0x35, 0xff])).toString("hex");
    expect([hex(0x00), hex(0x80), hex(0xff), hex(0x7f), hex(0x01)]).toEqual(["0135ff", "0135ff", "7f35ff", "7f35ff", "0135ff"]);
    const { certPem, serialNumber } = issueCertificate({ commonName: "s", usage: "ca", validityHours: 1 });
    expect(serialNumber).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
    expect(new X509Certificate(certPem).serialNumber.toLowerCase()).toBe(serialNumber);
  });
});

describe("reissue", () => {
  const inputs = { commonName: "gpk-scheduler", dnsNames: [], usage: "client" as const, validityHours: 24, renewBeforeHours: 2, issuerCertPem: ca.certPem };
  const olds = { ...inputs, ...client };

  it("keeps a certificate whose inputs are unchanged until it is within renewBeforeHours of its end", () => {
    expect(reissueReasons(olds, inputs, new Date(NOW.getTime() + 21 * 3_600_000))).toEqual([]);
    expect(reissueReasons(olds, inputs, new Date(NOW.getTime() + 22 * 3_600_000))).toEqual(["notAfter"]);
    expect(renewalDue("not a date", 1, NOW)).toBe(true);
  });

  it("reissues when a name, the usage, the validity or the issuing CA changes", () => {
    expect(reissueReasons(olds, { ...inputs, dnsNames: ["x"] }, NOW)).toEqual(["dnsNames"]);
    expect(reissueReasons(olds, { ...inputs, commonName: "other", validityHours: 48 }, NOW)).toEqual(["commonName", "validityHours"]);
    const newCa = issueCertificate({ commonName: "gpk-kit-ca", usage: "ca", validityHours: 1 });
    expect(reissueReasons(olds, { ...inputs, issuerCertPem: newCa.certPem }, NOW)).toEqual(["issuerCertPem"]);
    expect(reissueReasons(olds, { ...inputs, renewBeforeHours: 3 }, NOW)).toEqual([]);
  });
});
