/**
 * Mutual TLS of the extender's verbs, with certificates from the kit's PKI (components/kit-pki.ts)
 * over real TLS sockets: the scheduler's certificate is served; no certificate, another CA's,
 * or the server's own certificate is refused in the handshake (and counted); a certificate of
 * the right CA with another CN gets a 403; health and metrics stay on their plain-HTTP port;
 * bad TLS flags and files are configuration errors naming the flag.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, type KeyPairPem } from "../../components/kit-pki";
import { ExtenderConfigError, parseExtenderArgs } from "../../runtime/scheduler-extender/options";
import type { RunningExtender } from "../../runtime/scheduler-extender/run";
import { runGpk } from "../cli/run-gpk";
import { WORKLOAD, k8sNode, k8sPod, post, postTls, start, writeSnapshot, type TlsOutcome } from "./fixtures";

const SERVER_NAME = "gpk-scheduler-extender.gpk-system.svc";
const dir = mkdtempSync(path.join(tmpdir(), "gpk-ext-tls-"));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};

const ca = issueCertificate({ commonName: "gpk-kit-ca", usage: "ca", validityHours: 1 });
const otherCa = issueCertificate({ commonName: "someone-else", usage: "ca", validityHours: 1 });
const server = issueCertificate({ commonName: "gpk-scheduler-extender", usage: "server", dnsNames: [SERVER_NAME], validityHours: 1 }, ca);
const scheduler = issueCertificate({ commonName: "gpk-scheduler", usage: "client", validityHours: 1 }, ca);
const stranger = issueCertificate({ commonName: "tenant-workload", usage: "client", validityHours: 1 }, ca);
const forged = issueCertificate({ commonName: "gpk-scheduler", usage: "client", validityHours: 1 }, otherCa);

const tlsFlags = () => ["--tls-cert", file("tls.crt", server.certPem), "--tls-key", file("tls.key", server.keyPem), "--client-ca", file("ca.crt", ca.certPem)];

function callVerb(port: number, verb: string, body: unknown, client?: KeyPairPem): Promise<TlsOutcome> {
  return postTls(port, verb, body, { ca: ca.certPem, servername: SERVER_NAME, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) });
}

async function metric(port: number, name: string): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name));
}

let ext: RunningExtender;
beforeAll(async () => {
  ext = await start(["--snapshot", writeSnapshot({ nodes: [k8sNode("n1", { gpus: 8 })], workload: WORKLOAD }), ...tlsFlags(), "--health-port", "0"]);
});
afterAll(() => ext.close());

const filterBody = { Pod: k8sPod("p", { gpus: 1 }), NodeNames: ["n1"] };

describe("mutual TLS", () => {
  it("serves the scheduler's certificate", async () => {
    const res = await callVerb(ext.port, "filter", filterBody, scheduler);
    expect(res.status).toBe(200);
    expect(res.body.NodeNames).toEqual(["n1"]);
  });

  it("speaks HTTP/2 to a caller that offers it, every request of the caller on one connection, as kube-scheduler's client does", async () => {
    const before = await metric(ext.healthPort, "gpk_extender_tls_connections_total");
    const session = http2.connect(`https://127.0.0.1:${ext.port}`, { ca: ca.certPem, cert: scheduler.certPem, key: scheduler.keyPem, servername: SERVER_NAME });
    const call = (verb: string, body: unknown) => new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": `/${verb}`, "content-type": "application/json" });
      let text = "";
      let status = 0;
      req.on("response", (headers) => (status = Number(headers[":status"])));
      req.on("data", (chunk: Buffer) => (text += chunk.toString()));
      req.on("end", () => resolve({ status, body: JSON.parse(text) }));
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
    try {
      // Concurrent requests, as a filter and the binds of earlier pods overlap.
      const answers = await Promise.all([1, 2, 3].map((i) => call("filter", { Pod: k8sPod(`h2-${i}`, { gpus: 1 }), NodeNames: ["n1"] })));
      for (const a of answers) expect(a).toMatchObject({ status: 200, body: { NodeNames: ["n1"], Error: "" } });
      const refused = await call("bind", { PodName: "never-filtered", PodNamespace: "team-a", PodUID: "uid-never", Node: "n1" });
      expect(refused.status).toBe(403);
    } finally {
      session.close();
    }
    const count = (lines: string[]) => Number(lines.find((l) => l.includes('protocol="h2"'))?.split(" ")[1] ?? 0);
    expect(count(await metric(ext.healthPort, "gpk_extender_tls_connections_total"))).toBe(count(before) + 1);
  });

  it("refuses in the handshake a caller without a certificate, with another CA's, or with the server's own, and counts each", async () => {
    const before = await metric(ext.healthPort, "gpk_extender_tls_handshake_failures_total");
    for (const client of [undefined, forged, server]) {
      const res = await callVerb(ext.port, "filter", filterBody, client);
      expect(res.status, `client ${client ? new (await import("node:crypto")).X509Certificate(client.certPem).subject : "without a certificate"}`).toBeUndefined();
      expect(res.error).toMatch(/alert|certificate|socket hang up|ECONNRESET/i);
    }
    const count = (lines: string[]) => Number(lines[0]?.split(" ")[1] ?? 0);
    expect(count(await metric(ext.healthPort, "gpk_extender_tls_handshake_failures_total"))).toBe(count(before) + 3);
  });

  it("answers 403 to a certificate of the kit's CA that names another caller, and counts it", async () => {
    const res = await callVerb(ext.port, "bind", { PodName: "p", PodNamespace: "team-a", PodUID: "uid-p", Node: "n1" }, stranger);
    expect(res).toEqual({ status: 403, body: { Error: 'client certificate CN "tenant-workload" is not an allowed caller (gpk-scheduler)' } });
    expect(await metric(ext.healthPort, "gpk_extender_refusals_total")).toContain('gpk_extender_refusals_total{verb="bind",reason="client-identity"} 1');
    // Not bound: at most still booked by the earlier filter, waiting for gpk-scheduler's bind.
    const booked = ext.cache.podOn("uid-p");
    expect(booked === undefined || booked.reservedUntil !== undefined).toBe(true);
  });

  it("keeps health and metrics on the plain-HTTP port, and no verbs there", async () => {
    expect(ext.healthPort).not.toBe(ext.port);
    expect((await fetch(`http://127.0.0.1:${ext.healthPort}/healthz`)).status).toBe(200);
    const verb = await post(ext.healthPort, "filter", filterBody);
    expect(verb.status).toBe(404);
    expect(verb.body.Error).toBe("/filter: not found; verbs are POST /filter, /prioritize, /bind on the TLS port");
    // And the TLS port speaks no plain HTTP.
    await expect(fetch(`http://127.0.0.1:${ext.port}/healthz`)).rejects.toThrow();
  });
});

describe("TLS configuration", () => {
  const parse = (argv: string[]) => parseExtenderArgs(argv, {}, { allowKubeconfig: true });

  it("wants the three files together, and --client-name / --health-port only with them", () => {
    expect(() => parse(["--tls-cert", "a.pem", "--client-ca", "c.pem"])).toThrow(new ExtenderConfigError("--tls-cert, --client-ca: mutual TLS needs --tls-cert, --tls-key and --client-ca together; missing --tls-key"));
    expect(() => parse(["--client-name", "x"])).toThrow(new ExtenderConfigError("--client-name: only with mutual TLS (--tls-cert, --tls-key, --client-ca)"));
    expect(() => parse([...tlsFlags(), "--client-name", " "])).toThrow("--client-name: expected a certificate subject CN, got an empty string");
    expect(() => parse([...tlsFlags(), "--health-port", "http"])).toThrow('--health-port: expected an integer, got "http"');
    expect(parse([...tlsFlags(), "--client-name", "a", "--client-name", "b"]).tls).toMatchObject({ clientNames: ["a", "b"], healthPort: 8889 });
  });

  it("exits 2 naming the flag for an unreadable file, a file without PEM, and a key that is not the certificate's", () => {
    const [, , , , , caFile] = tlsFlags();
    const cases: [string[], RegExp][] = [
      [["--tls-cert", path.join(dir, "missing.crt"), "--tls-key", file("k1", server.keyPem), "--client-ca", caFile!], /^--tls-cert: no such file: .*missing\.crt$/],
      [["--tls-cert", file("c2", server.certPem), "--tls-key", file("k2", "not a key"), "--client-ca", caFile!], /^--tls-key: .*k2 holds no PEM block$/],
      [["--tls-cert", file("c3", server.certPem), "--tls-key", file("k3", scheduler.keyPem), "--client-ca", caFile!], /^--tls-cert, --tls-key, --client-ca: .*\(ERR_OSSL_.*\)$/],
    ];
    for (const [flags, message] of cases) {
      const res = runGpk(["extender", "--port", "0", "--host", "127.0.0.1", ...flags]);
      expect(res.status, res.stderr).toBe(2);
      const line = res.stderr.trim().split("\n").pop()!.replace(/^gpk extender: /, "");
      expect(line).toMatch(message);
      expect(res.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
