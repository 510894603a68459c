/**
 * The extender's callers on the real control plane: the real kube-scheduler (gpk-scheduler,
 * on the configuration the stack rendered) reaches `gpk extender` over mutual TLS with the
 * certificates `pulumi up` issued into the stack's Secrets and schedules a GPU pod; a client
 * without a certificate is refused in the handshake; and with the scheduler's own certificate,
 * a direct /bind of a pod no filter carried, or of a filtered pod onto a node its selector
 * excludes, is refused: the pod stays unbound and the refusal metric counts each.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { layoutOf, tlsDir } from "../../cli/local/binaries/plan";
import { readState } from "../../cli/local/binaries/runtime";
import { extenderDnsNames } from "../../components/scheduler-extender";
import { GPK_SCHEDULER_NAME, GPU_RESOURCE, KIT_ANNOTATIONS, KIT_LABELS, SYSTEM_NAMESPACE } from "../../gpu";
import { postTls, type TlsOutcome } from "../scheduler-extender/fixtures";
import { REPO_ROOT, createNamespace, createObject, gpuPod, kubectl, kubectlOk, podJson, waitUntil } from "./cluster";

const NS = "e2e-guard";
const layout = layoutOf(REPO_ROOT, "local");
const ports = () => readState(layout)!.ports;

beforeAll(() => createNamespace(NS, { gpu: true }));
afterAll(() => {
  kubectl(["delete", "namespace", NS, "--wait=false"]);
});

/** A call to the extender's verb port as a client holding `identity`'s TLS folder (or none). */
function callExtender(verb: string, body: unknown, identity?: "gpk-scheduler"): Promise<TlsOutcome> {
  const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file));
  const client = identity && { cert: read(tlsDir(layout, identity), "tls.crt"), key: read(tlsDir(layout, identity), "tls.key") };
  return postTls(ports()["gpk-extender"], verb, body, { ca: read(tlsDir(layout, "gpk-extender"), "ca.crt"), servername: extenderDnsNames(SYSTEM_NAMESPACE)[0]!, ...client });
}

async function metricValue(name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${ports()["gpk-extender-health"]}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line ? Number(line.split(" ").pop()) : 0;
}

function gpuNodeNames(): string[] {
  return (kubectlOk(["get", "nodes", "-o", "json"]).items as any[]).filter((n) => n.status.allocatable[GPU_RESOURCE] !== undefined).map((n) => n.metadata.name);
}

describe("the extender's callers", () => {
  it("gpk-scheduler reaches it over mutual TLS with the stack's certificates and schedules a GPU pod", async () => {
    const config = parse(fs.readFileSync(layout.schedulerConfig, "utf8"));
    expect(config.extenders[0]).toMatchObject({ enableHTTPS: true, tlsConfig: { serverName: extenderDnsNames(SYSTEM_NAMESPACE)[0] } });
    expect(config.extenders[0].urlPrefix).toMatch(/^https:\/\//);
    // The Secrets pulumi up created carry a certificate and key for each side.
    for (const secret of ["gpk-scheduler-extender-tls", "gpk-scheduler-client-tls"]) {
      const s = kubectlOk(["get", "secret", "-n", SYSTEM_NAMESPACE, secret, "-o", "json"]);
      expect(s.type).toBe("kubernetes.io/tls");
      expect(Buffer.from(s.data["tls.crt"], "base64").toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    }
    const bindsBefore = await metricValue("gpk_extender_requests_total", 'verb="bind",code="200"');
    expect(createObject(gpuPod("through-tls", NS, 1, { schedulerName: GPK_SCHEDULER_NAME })).status).toBe(0);
    const pod = await waitUntil("the pod bound through the extender", () => {
      const p = podJson(NS, "through-tls");
      return p?.spec.nodeName && p.metadata.annotations?.[KIT_ANNOTATIONS.gpuAssignment] ? p : undefined;
    }, 120_000);
    expect(JSON.parse(pod.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment]).node).toBe(pod.spec.nodeName);
    expect(await metricValue("gpk_extender_requests_total", 'verb="bind",code="200"')).toBeGreaterThan(bindsBefore);
  });

  it("refuses a client without a certificate in the handshake, and counts it", async () => {
    const before = await metricValue("gpk_extender_tls_handshake_failures_total");
    const res = await callExtender("filter", { Pod: gpuPod("x", NS, 1), NodeNames: [] });
    expect(res.status).toBeUndefined();
    expect(res.error).toMatch(/certificate required|alert|socket hang up|ECONNRESET/i);
    expect(await metricValue("gpk_extender_tls_handshake_failures_total")).toBe(before + 1);
  });

  it("with the scheduler's own certificate, refuses a bind of a pod it never filtered: the pod stays unbound", async () => {
    // No scheduler serves this name, so nothing but the direct call could bind the pod.
    expect(createObject(gpuPod("never-filtered", NS, 1, { schedulerName: "nobody" })).status).toBe(0);
    const pod = podJson(NS, "never-filtered");
    const before = await metricValue("gpk_extender_refusals_total", 'verb="bind",reason="not-filtered"');
    const res = await callExtender("bind", { PodName: "never-filtered", PodNamespace: NS, PodUID: pod.metadata.uid, Node: gpuNodeNames()[0] }, "gpk-scheduler");
    expect(res.status).toBe(403);
    expect(res.body.Error).toBe(`pod ${NS}/never-filtered (${pod.metadata.uid}) was not filtered by this extender in the last 5 minutes; only a pod it filtered may be bound`);
    expect(await metricValue("gpk_extender_refusals_total", 'verb="bind",reason="not-filtered"')).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(podJson(NS, "never-filtered").spec.nodeName).toBeUndefined();
  });

  it("with the scheduler's own certificate, refuses a bind onto a node the pod's selector excludes, even after a filter passed it", async () => {
    expect(createObject(gpuPod("elsewhere", NS, 1, { schedulerName: "nobody", nodeSelector: { [KIT_LABELS.pool]: "no-such-pool" } })).status).toBe(0);
    const pod = podJson(NS, "elsewhere");
    const node = gpuNodeNames()[0]!;
    // The extender's filter judges GPUs only (kube-scheduler has applied the selector before it asks).
    const filtered = await callExtender("filter", { Pod: pod, NodeNames: [node] }, "gpk-scheduler");
    expect(filtered.body.NodeNames).toEqual([node]);
    const before = await metricValue("gpk_extender_refusals_total", 'verb="bind",reason="node-selector"');
    const res = await callExtender("bind", { PodName: "elsewhere", PodNamespace: NS, PodUID: pod.metadata.uid, Node: node }, "gpk-scheduler");
    expect(res).toEqual({ status: 403, body: { Error: `node ${node} does not match the pod's nodeSelector ${KIT_LABELS.pool}=no-such-pool` } });
    expect(await metricValue("gpk_extender_refusals_total", 'verb="bind",reason="node-selector"')).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(podJson(NS, "elsewhere").spec.nodeName).toBeUndefined();
    expect(podJson(NS, "elsewhere").metadata.annotations?.[KIT_ANNOTATIONS.gpuAssignment]).toBeUndefined();
  });
});
