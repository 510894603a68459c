/**
 * A tiny Kubernetes API server over real HTTP for the extender's list+watch and binding calls:
 * serves NodeList/PodList (and a PodDisruptionBudgetList), keeps watch streams open and lets the test push events into them,
 * records Binding requests, and checks the bearer token on every call.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

type Kind = "nodes" | "pods";

export class ApiPeer {
  readonly objects: Record<Kind, any[]> = { nodes: [], pods: [] };
  readonly bindings: any[] = [];
  /** PodDisruptionBudgets served at /apis/policy/v1/poddisruptionbudgets (list only). */
  readonly pdbs: any[] = [];
  readonly watches: Record<Kind, ServerResponse[]> = { nodes: [], pods: [] };
  /** Status to answer a binding for these pod names with (default 201). */
  readonly bindStatus = new Map<string, number>();
  lists: Record<Kind, number> = { nodes: 0, pods: 0 };
  /** Query of every list and watch request, in arrival order. */
  readonly queries: { kind: Kind; query: URLSearchParams }[] = [];
  unauthorized = 0;
  private gate: Promise<void>;
  private open!: () => void;
  private rv = 100;
  private server!: Server;
  port = 0;

  constructor(readonly token = "test-token") {
    this.gate = new Promise((r) => (this.open = r));
  }

  /** Lists are held until this is called (to observe readiness before sync). */
  releaseLists(): void {
    this.open();
  }

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        this.unauthorized++;
        res.writeHead(401).end(JSON.stringify({ kind: "Status", code: 401, message: "Unauthorized" }));
        return;
      }
      const url = new URL(req.url!, "http://x");
      const kind = url.pathname === "/api/v1/nodes" ? "nodes" : url.pathname === "/api/v1/pods" ? "pods" : undefined;
      if (kind) this.queries.push({ kind, query: url.searchParams });
      if (kind && url.searchParams.get("watch") === "1") {
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
        res.write("");
        this.watches[kind].push(res);
        req.on("close", () => (this.watches[kind] = this.watches[kind].filter((w) => w !== res)));
        return;
      }
      if (kind) {
        await this.gate;
        this.lists[kind]++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: kind === "nodes" ? "NodeList" : "PodList", apiVersion: "v1", metadata: { resourceVersion: String(this.rv) }, items: this.objects[kind] }));
        return;
      }
      if (url.pathname === "/apis/policy/v1/poddisruptionbudgets") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "PodDisruptionBudgetList", apiVersion: "policy/v1", metadata: { resourceVersion: String(this.rv) }, items: this.pdbs }));
        return;
      }
      const binding = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/binding$/.exec(url.pathname);
      if (binding && req.method === "POST") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const parsed = JSON.parse(body);
        const status = this.bindStatus.get(binding[2]!) ?? 201;
        if (status === 201) this.bindings.push({ namespace: binding[1], name: binding[2], body: parsed });
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(status === 201 ? { kind: "Status", status: "Success", code: 201 } : { kind: "Status", status: "Failure", code: status, message: `pods "${binding[2]}" conflict` }));
        return;
      }
      const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
      if (pod) {
        const found = this.objects.pods.find((p) => p.metadata.namespace === pod[1] && p.metadata.name === pod[2]);
        res.writeHead(found ? 200 : 404, { "content-type": "application/json" });
        res.end(JSON.stringify(found ?? { kind: "Status", code: 404, message: "not found" }));
        return;
      }
      res.writeHead(404).end("{}");
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Sends a watch event to every open watch of `kind`. */
  push(kind: Kind, type: "ADDED" | "MODIFIED" | "DELETED", object: any): void {
    object.metadata.resourceVersion = String(++this.rv);
    if (type === "DELETED") this.objects[kind] = this.objects[kind].filter((o) => o.metadata.name !== object.metadata.name);
    else this.objects[kind] = [...this.objects[kind].filter((o) => o.metadata.name !== object.metadata.name), object];
    for (const w of this.watches[kind]) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Tells every watch of `kind` its resourceVersion is too old (410 Gone), forcing a relist. */
  expire(kind: Kind): void {
    for (const w of this.watches[kind]) w.end(`${JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } })}\n`);
  }

  kubeconfig(): string {
    const dir = mkdtempSync(path.join(tmpdir(), "gpk-kubeconfig-"));
    const file = path.join(dir, "config");
    writeFileSync(file, [
      "apiVersion: v1", "kind: Config", "current-context: peer",
      "clusters:", `- name: peer`, `  cluster: { server: "http://127.0.0.1:${this.port}", insecure-skip-tls-verify: true }`,
      "users:", "- name: tester", `  user: { token: ${this.token} }`,
      "contexts:", "- name: peer", "  context: { cluster: peer, user: tester }", "",
    ].join("\n"));
    return file;
  }

  close(): Promise<void> {
    for (const kind of ["nodes", "pods"] as const) for (const w of this.watches[kind]) w.destroy();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
