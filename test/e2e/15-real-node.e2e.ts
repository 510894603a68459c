/**
 * The real node of the binaries runtime: the first node of the first GPU pool runs a real
 * kubelet (the kit's Kubernetes pin) on its own containerd, and the stack's rendered pods start
 * there in containers of the locally built images. The simulated device plugin registers with
 * that kubelet, which advertises and allocates the GPUs; a pod placed by gpk-scheduler sees the
 * GPUs the extender assigned it.
 */
import { describe, expect, it } from "vitest";
import { GPU_RESOURCE, KIT_ANNOTATIONS, KIT_LABELS, NODE_AGENT_NAMESPACE, GPK_SCHEDULER_NAME } from "../../gpu";
import { readPins } from "../../cli/tools/recipes";
import { RESTRICTED_CONTAINER_SECURITY, RESTRICTED_POD_SECURITY, cluster, createNamespace, createObject, kubectl, kubectlOk, podJson, waitUntil } from "./cluster";

const realNode = () => cluster().nodes.find((n) => n.runtime === "kubelet")!.name;
const runtimeImage = () => cluster().images.find((i) => i.name.startsWith("gpk.local/gpk-runtime:"))!.ref;
const POOL = "sim-h100";
const GPUS_PER_NODE = 4;
const PLUGIN = `gpk-device-plugin-${POOL}`;

const allocatableGpus = (): string | undefined => kubectlOk(["get", "node", realNode(), "-o", "json"]).status?.allocatable?.[GPU_RESOURCE];
const pluginPods = () => (kubectlOk(["get", "pods", "-n", NODE_AGENT_NAMESPACE, "-l", `app.kubernetes.io/name=gpk-device-plugin,${KIT_LABELS.pool}=${POOL}`, "--field-selector", `spec.nodeName=${realNode()}`, "-o", "json"]).items as any[]);
const runningReady = (pod: any) => pod.status?.phase === "Running" && pod.status.containerStatuses?.every((c: any) => c.ready);

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
    await waitUntil("the device plugin pod Running", () => pluginPods().some(runningReady), 180_000, 1000);
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
    await waitUntil("the device plugin pod back", () => pluginPods().some(runningReady), 180_000, 1000);
    await waitUntil(`${GPUS_PER_NODE} GPUs allocatable again`, () => allocatableGpus() === String(GPUS_PER_NODE), 120_000, 500);
  });

  it("gets its GPUs back when the device plugin pod is deleted and its replacement registers", async () => {
    const [before] = pluginPods();
    kubectlOk(["delete", "pod", "-n", NODE_AGENT_NAMESPACE, before.metadata.name, "--wait=false"]);
    await waitUntil("a replacement plugin pod Running", () => pluginPods().some((p) => p.metadata.uid !== before.metadata.uid && runningReady(p)), 180_000, 1000);
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
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
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
        if (p?.status?.phase === "Failed") throw new Error(`the GPU pod failed: ${JSON.stringify(p.status.containerStatuses)}`);
        return p?.status?.phase === "Succeeded" && p;
      }, 180_000, 1000);
      expect(done.spec.nodeName).toBe(realNode());
      const assignment = JSON.parse(done.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment]);
      expect(assignment.node).toBe(realNode());
      expect(assignment.uuids).toHaveLength(2);
      const seen = JSON.parse(done.status.containerStatuses[0].state.terminated.message);
      expect(seen.uid).toBe(RESTRICTED_POD_SECURITY.runAsUser);
      expect(seen.visible.split(",").sort()).toEqual([...assignment.uuids].sort());
      const listed = [...seen.smi.matchAll(/\(UUID: (GPU-[0-9a-f-]+)\)/g)].map((m: RegExpMatchArray) => m[1]);
      expect(listed.sort()).toEqual([...assignment.uuids].sort());
    } finally {
      kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  });
});
