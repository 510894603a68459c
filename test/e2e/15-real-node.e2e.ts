/**
 * The real node of the binaries runtime: the first node of the first GPU pool runs a real
 * kubelet (the kit's Kubernetes pin) on its own containerd, and the stack's rendered pods start
 * there in containers of the locally built images. The simulated device plugin registers with
 * that kubelet, which advertises and allocates the GPUs; a pod placed by gpk-scheduler sees the
 * GPUs the extender assigned it.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { DEFAULT_MONITORING_NAMESPACE, GPU_RESOURCE, GPU_TAINT, KIT_ANNOTATIONS, KIT_LABELS, NODE_AGENT_NAMESPACE, GPK_SCHEDULER_NAME, tolerationFor } from "../../gpu";
import { TELEMETRY_PORT, telemetryExporterLabels } from "../../components/gpu-telemetry";
import { readPins } from "../../cli/tools/recipes";
import { simUuid } from "../../runtime/gpu-sim/node";
import { RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, cluster, createNamespace, createObject, kubectl, kubectlOk, podJson, waitUntil } from "./cluster";

const realNode = () => cluster().nodes.find((n) => n.runtime === "kubelet")!.name;
const runtimeImage = () => cluster().images.find((i) => i.name.startsWith("gpk.local/gpk-runtime:"))!.ref;
const POOL = "sim-h100";
const GPUS_PER_NODE = 4;
const PLUGIN = `gpk-device-plugin-${POOL}`;

const allocatableGpus = (): string | undefined => kubectlOk(["get", "node", realNode(), "-o", "json"]).status?.allocatable?.[GPU_RESOURCE];
const pluginPods = () => (kubectlOk(["get", "pods", "-n", NODE_AGENT_NAMESPACE, "-l", `app.kubernetes.io/name=gpk-device-plugin,${KIT_LABELS.pool}=${POOL}`, "--field-selector", `spec.nodeName=${realNode()}`, "-o", "json"]).items as any[]);
const labelSelector = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
const runningReady = (pod: any) => pod.status?.phase === "Running" && pod.status.containerStatuses?.every((c: any) => c.ready);
/**
 * A plugin pod that has registered with the kubelet (its log says so, read through the kubelet).
 * Running is not enough, and neither is the node's allocatable: the kubelet updates the node's
 * status every few seconds, so it can still show the old plugin's GPUs while the new one has not
 * registered, and a GPU pod admitted then is refused ("no healthy devices").
 */
const registeredPlugin = () => pluginPods().find((p) => runningReady(p) && kubectl(["logs", "-n", NODE_AGENT_NAMESPACE, p.metadata.name]).stdout.includes("registered nvidia.com/gpu with kubelet"));

/**
 * Runs `node -e` in a restricted pod on the real node (namespace `ns` must be labelled as a
 * tenant's, so its pod may tolerate the GPU taint): `promise` is a JavaScript expression whose
 * value comes back as JSON through the termination message (at most 4 KiB). The pod must succeed.
 */
async function runOnRealNode(ns: string, name: string, promise: string): Promise<any> {
  const script = `(${promise}).then((v) => require('node:fs').writeFileSync('/dev/termination-log', JSON.stringify(v)))` +
    ".catch((e) => { require('node:fs').writeFileSync('/dev/termination-log', 'ERR ' + e.message); process.exit(1); });";
  const made = createObject({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      restartPolicy: "Never",
      nodeSelector: { "kubernetes.io/hostname": realNode() },
      tolerations: [tolerationFor(GPU_TAINT)],
      securityContext: RESTRICTED_POD_SECURITY,
      containers: [{ name: "main", image: runtimeImage(), command: ["node", "-e", script], securityContext: RESTRICTED_CONTAINER_SECURITY, resources: { limits: { cpu: "200m", memory: "128Mi" } } }],
    },
  });
  expect(made.status, made.stderr).toBe(0);
  const done = await waitUntil(`the ${name} pod finished`, () => {
    const p = podJson(ns, name);
    return (p?.status?.phase === "Succeeded" || p?.status?.phase === "Failed") && p;
  }, 180_000, 1000);
  const message = done.status.containerStatuses[0].state.terminated.message;
  expect(done.status.phase, message).toBe("Succeeded");
  return JSON.parse(message);
}

describe("the real GPU node", () => {
  it("is one of the cluster's nodes, run by the pinned kubelet on containerd, with the pool's labels and taints", () => {
    expect(cluster().nodes.filter((n) => n.runtime === "kubelet")).toHaveLength(1);
    const node = kubectlOk(["get", "node", realNode(), "-o", "json"]);
    expect(node.status.nodeInfo.kubeletVersion).toBe(readPins().kubernetes.version);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node.metadata.labels[KIT_LABELS.pool]).toBe(POOL);
    expect(node.metadata.annotations?.["kwok.x-k8s.io/node"]).toBeUndefined();
    expect(node.spec.taints).toContainEqual({ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" });
    expect(node.status.addresses).toContainEqual({ type: "InternalIP", address: "10.213.0.2" });
  });

  it("runs the device plugin's pod, whose registration is what gives it GPUs: none without it, exactly the pool's with it", async () => {
    await waitUntil("the device plugin pod registered", registeredPlugin, 180_000, 1000);
    await waitUntil(`${GPUS_PER_NODE} GPUs allocatable`, () => allocatableGpus() === String(GPUS_PER_NODE), 120_000, 500);
    // Keep the DaemonSet off the node: its pod goes, unregisters, and the kubelet advertises none.
    const away = { spec: { template: { spec: { nodeSelector: { [KIT_LABELS.pool]: POOL, "e2e.gpk.dev/no-node": "true" } } } } };
    kubectlOk(["patch", "daemonset", PLUGIN, "-n", NODE_AGENT_NAMESPACE, "--type", "merge", "-p", JSON.stringify(away)]);
    try {
      await waitUntil("the device plugin pod gone", () => pluginPods().length === 0, 120_000, 500);
      await waitUntil("no GPU allocatable", () => (allocatableGpus() ?? "0") === "0", 120_000, 500);
    } finally {
      kubectlOk(["patch", "daemonset", PLUGIN, "-n", NODE_AGENT_NAMESPACE, "--type", "json", "-p", JSON.stringify([{ op: "remove", path: "/spec/template/spec/nodeSelector/e2e.gpk.dev~1no-node" }])]);
    }
    await waitUntil("the device plugin pod back and registered", registeredPlugin, 180_000, 1000);
    await waitUntil(`${GPUS_PER_NODE} GPUs allocatable again`, () => allocatableGpus() === String(GPUS_PER_NODE), 120_000, 500);
  });

  it("gets its GPUs back when the device plugin pod is deleted and its replacement registers", async () => {
    const [before] = pluginPods();
    kubectlOk(["delete", "pod", "-n", NODE_AGENT_NAMESPACE, before.metadata.name, "--wait=false"]);
    await waitUntil("a replacement plugin pod registered", () => {
      const replacement = registeredPlugin();
      return replacement && replacement.metadata.uid !== before.metadata.uid && replacement;
    }, 180_000, 1000);
    await waitUntil(`${GPUS_PER_NODE} GPUs allocatable`, () => allocatableGpus() === String(GPUS_PER_NODE), 120_000, 500);
  });

  it("runs a GPU pod placed by gpk-scheduler, whose container sees exactly the GPUs the extender assigned", async () => {
    const ns = "e2e-real-gpu";
    await createNamespace(ns, { gpu: true });
    // The container reports what it sees through its termination message: no exec needed.
    const report = [
      "const { execFileSync } = require('node:child_process');",
      "const smi = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8' });",
      "require('node:fs').writeFileSync('/dev/termination-log', JSON.stringify({ visible: process.env.NVIDIA_VISIBLE_DEVICES, smi, uid: process.getuid() }));",
    ].join(" ");
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "sees-gpus", namespace: ns },
      spec: {
        schedulerName: GPK_SCHEDULER_NAME,
        restartPolicy: "Never",
        nodeSelector: { "kubernetes.io/hostname": realNode() },
        securityContext: RESTRICTED_POD_SECURITY,
        tolerations: [tolerationFor(GPU_TAINT)],
        containers: [{
          name: "main",
          image: runtimeImage(),
          command: ["node", "-e", report],
          securityContext: { ...RESTRICTED_CONTAINER_SECURITY, readOnlyRootFilesystem: true },
          resources: { limits: { [GPU_RESOURCE]: "2", cpu: "200m", memory: "128Mi" } },
        }],
      },
    };
    try {
      const created = createObject(pod);
      expect(created.status, created.stderr).toBe(0);
      const done = await waitUntil("the GPU pod Succeeded", () => {
        const p = podJson(ns, "sees-gpus");
        if (p?.status?.phase === "Failed") throw new Error(`the GPU pod failed: ${p.status.reason ?? ""} ${p.status.message ?? ""} ${JSON.stringify(p.status.containerStatuses ?? [])}`);
        return p?.status?.phase === "Succeeded" && p;
      }, 180_000, 1000);
      expect(done.spec.nodeName).toBe(realNode());
      const assignment = JSON.parse(done.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment]);
      expect(assignment.node).toBe(realNode());
      expect(assignment.gpus).toHaveLength(2);
      // The simulated GPUs' UUIDs are seeded by the node's name (runtime/gpu-sim/node.ts).
      const assigned: string[] = assignment.uuids ?? assignment.gpus.map((i: number) => simUuid(realNode(), i));
      const seen = JSON.parse(done.status.containerStatuses[0].state.terminated.message);
      expect(seen.uid).toBe(RESTRICTED_POD_SECURITY.runAsUser);
      expect(seen.visible.split(",").sort()).toEqual([...assigned].sort());
      const listed = [...seen.smi.matchAll(/\(UUID: (GPU-[0-9a-f-]+)\)/g)].map((m: RegExpMatchArray) => m[1]);
      expect(listed.sort()).toEqual([...assigned].sort());
    } finally {
      kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  });

  it("runs the stack's serving pod, Ready through its probe, answering a chat completion through its ClusterIP Service", async () => {
    const chatPods = () => (kubectlOk(["get", "pods", "-n", "team-b", "-l", "app.kubernetes.io/name=chat", "-o", "json"]).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
    if (!chatPods().some((p) => p.spec.nodeName === realNode())) {
      // gpk-scheduler may have placed it on the pool's KWOK node: move it the way an operator would.
      const twins = (kubectlOk(["get", "nodes", "-l", `${KIT_LABELS.pool}=${POOL}`, "-o", "json"]).items as any[]).map((n) => n.metadata.name).filter((n) => n !== realNode());
      for (const n of twins) kubectlOk(["cordon", n]);
      try {
        for (const p of chatPods()) kubectlOk(["delete", "pod", "-n", "team-b", p.metadata.name, "--wait=false"]);
        await waitUntil("a chat pod on the real node", () => chatPods().some((p) => p.spec.nodeName === realNode()), 120_000, 1000);
      } finally {
        for (const n of twins) kubectlOk(["uncordon", n]);
      }
    }
    const pod = await waitUntil("the chat pod Ready on the real node", () => chatPods().find((p) => p.spec.nodeName === realNode() && runningReady(p)), 180_000, 1000);
    expect(pod.spec.containers[0].image).toBe(runtimeImage());
    expect(pod.spec.containers[0].readinessProbe.httpGet.path).toBe("/health");
    const service = kubectlOk(["get", "service", "chat", "-n", "team-b", "-o", "json"]);
    const url = `http://${service.spec.clusterIP}:${service.spec.ports[0].port}/v1/chat/completions`;
    const ns = "e2e-real-client";
    // A tenant's namespace (labelled as an admin would): only those may tolerate the GPU taint.
    await createNamespace(ns, { gpu: true });
    // The answer's status and body (a termination message holds at most 4 KiB).
    const request = `fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'content-type': 'application/json' }, ` +
      "body: JSON.stringify({ model: 'qwen2.5-0.5b', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 8 }) })" +
      ".then(async (r) => ({ status: r.status, body: await r.json() }))";
    try {
      const answer = await runOnRealNode(ns, "client", request);
      expect(answer.status).toBe(200);
      expect(answer.body.object).toBe("chat.completion");
      expect(answer.body.usage.completion_tokens).toBeGreaterThan(0);
      expect(answer.body.usage.total_tokens).toBe(answer.body.usage.prompt_tokens + answer.body.usage.completion_tokens);
    } finally {
      kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  });

  it("runs the telemetry DaemonSet's exporter, which serves DCGM metrics of the node's GPUs on its pod IP", async () => {
    const exporter = await waitUntil("the GPU telemetry exporter Running and Ready on the real node", () =>
      (kubectlOk(["get", "pods", "-n", NODE_AGENT_NAMESPACE, "-l", labelSelector(telemetryExporterLabels("kind")), "--field-selector", `spec.nodeName=${realNode()}`, "-o", "json"]).items as any[]).find(runningReady), 180_000, 1000);
    expect(exporter.spec.containers[0].image).toBe(runtimeImage());
    const url = `http://${exporter.status.podIP}:${TELEMETRY_PORT}/metrics`;
    // The scrapers' namespace the exporters' NetworkPolicy admits; labelled as a tenant's so its pod may tolerate the GPU taint.
    const ns = DEFAULT_MONITORING_NAMESPACE;
    const created = kubectl(["get", "namespace", ns]).status !== 0;
    if (created) await createNamespace(ns, { gpu: true });
    // The temperature lines only: a termination message holds at most 4 KiB.
    const scrape = `fetch(${JSON.stringify(url)}).then(async (r) => ({ status: r.status, ` +
      "lines: (await r.text()).split('\\n').filter((l) => l.startsWith('DCGM_FI_DEV_GPU_TEMP{')) }))";
    try {
      const { status, lines } = (await runOnRealNode(ns, "scraper", scrape)) as { status: number; lines: string[] };
      expect(status).toBe(200);
      // One temperature per GPU of the node, named by the UUIDs the device plugin gave the kubelet.
      const uuids = lines.map((l) => /UUID="([^"]+)"/.exec(l)?.[1]).sort();
      expect(uuids).toEqual(Array.from({ length: GPUS_PER_NODE }, (_, i) => simUuid(realNode(), i)).sort());
      for (const line of lines) expect(line).toContain(`Hostname="${realNode()}"`);
    } finally {
      kubectl(created ? ["delete", "namespace", ns, "--wait=false"] : ["delete", "pod", "scraper", "-n", ns, "--wait=false"]);
    }
  });

  it("serves kubectl logs, exec and port-forward for its pods, with the kubeconfig from up --json", async () => {
    const plugin = pluginPods().find(runningReady)!;
    const logs = kubectl(["logs", "-n", NODE_AGENT_NAMESPACE, plugin.metadata.name]);
    expect(logs.status, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("registered nvidia.com/gpu with kubelet");
    const chat = (kubectlOk(["get", "pods", "-n", "team-b", "-l", "app.kubernetes.io/name=chat", "-o", "json"]).items as any[]).find((p) => p.spec.nodeName === realNode() && runningReady(p))!;
    const exec = kubectl(["exec", "-n", "team-b", chat.metadata.name, "--", "node", "-e", "process.stdout.write(String(process.getuid()))"]);
    expect(exec.status, exec.stderr).toBe(0);
    expect(exec.stdout).toBe(String(chat.spec.securityContext?.runAsUser ?? chat.spec.containers[0].securityContext.runAsUser));
    const forward = spawn("kubectl", ["--kubeconfig", cluster().kubeconfig, "port-forward", "-n", "team-b", `pod/${chat.metadata.name}`, ":8000"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        forward.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        forward.on("exit", (code) => reject(new Error(`kubectl port-forward exited ${code}`)));
        setTimeout(() => reject(new Error(`kubectl port-forward: no port after 30 s: ${out}`)), 30_000).unref();
      });
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toContain("qwen2.5-0.5b");
    } finally {
      forward.kill();
    }
  });

  it("starts every pod of the restricted namespaces it runs: the images' numeric users satisfy runAsNonRoot", () => {
    const restricted = (kubectlOk(["get", "namespaces", "-l", "pod-security.kubernetes.io/enforce=restricted", "-o", "json"]).items as any[]).map((n) => n.metadata.name);
    const onNode = (kubectlOk(["get", "pods", "-A", "--field-selector", `spec.nodeName=${realNode()}`, "-o", "json"]).items as any[])
      .filter((p) => restricted.includes(p.metadata.namespace) && !p.metadata.deletionTimestamp && p.status.phase !== "Succeeded");
    expect(onNode.length).toBeGreaterThan(0);
    for (const p of onNode) {
      const waiting = (p.status.containerStatuses ?? []).map((c: any) => c.state.waiting?.reason).filter(Boolean);
      expect(waiting, `${p.metadata.namespace}/${p.metadata.name}`).toEqual([]);
      expect(p.status.phase, `${p.metadata.namespace}/${p.metadata.name}`).toBe("Running");
    }
  });
});
