import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { poolSummary } from "../../components/gpu-node-group";
import {
  expandEnv, kuberayProblems, kuberayStart, rayNumGpus, shellWords, type RayClusterObject,
} from "../../components/kuberay-start";
import { rayClusterSpecInput, type RayClusterArgs } from "../../components/ray-cluster";
import { rayClusterSpec } from "../../components/ray-spec";

const training = poolSummary("eks", { name: "training", instanceType: "p5.48xlarge", desiredNodes: 2, maxNodes: 4 });

function cluster(over: Partial<RayClusterArgs> = {}): RayClusterObject {
  const args: RayClusterArgs = {
    target: "eks",
    namespace: "research",
    pools: [training],
    useGpkScheduler: true,
    head: { cpu: "1500m", memory: "2Gi" },
    workerGroups: [{ pool: "training", cpu: "16", memory: "64Gi", minReplicas: 1, maxReplicas: 4 }],
    ...over,
  };
  return { metadata: { name: "ray", namespace: "research" }, spec: rayClusterSpec(rayClusterSpecInput(args)) };
}

/** The words real bash passes to `ray` when it runs the container's argument. */
function bashArgv(shell: string, env: Record<string, string>): string[] {
  const script = `ray() { shift; printf '%s\\0' "$@"; }; ${shell}`;
  const r = spawnSync("bash", ["-c", script], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\0").slice(0, -1);
}

describe("KubeRay's ray start for the rendered cluster (v1.7.0 common/pod.go)", () => {
  it("starts the head with no Ray CPUs, memory from its limit, the dashboard on all interfaces and no monitor (in-tree autoscaling)", () => {
    const { head } = kuberayStart(cluster());
    expect(head.args).toEqual([
      "--head", "--block", "--dashboard-agent-listen-port=52365", "--dashboard-host=0.0.0.0", `--memory=${2 * 2 ** 30}`,
      "--metrics-export-port=8080", "--no-monitor", "--num-cpus=0",
    ]);
    expect(head.env.RAY_ADDRESS).toBe("127.0.0.1:6379");
    expect(head.env.RAY_enable_autoscaler_v2).toBe("true");
    expect(head.env.RAY_AUTH_MODE).toBe("token");
    expect(head.env.RAY_AUTH_TOKEN).toEqual({ valueFrom: { secretKeyRef: { name: "ray", key: "auth_token" } } });
    expect(head.env.RAY_task_retry_delay_ms).toBe("5000");
  });

  it("starts workers against the head service with num-gpus from the GPU limit, the custom resources as sorted JSON and the pool label", () => {
    const [worker] = kuberayStart(cluster()).workerGroups;
    expect(worker!.args).toEqual([
      "--address=ray-head-svc.research.svc.cluster.local:6379", "--block", "--dashboard-agent-listen-port=52365",
      "--labels=gpk.dev/pool=training", `--memory=${64 * 2 ** 30}`, "--metrics-export-port=8080", "--num-cpus=16", "--num-gpus=8",
      '--resources={"NVIDIA-H100-80GB-HBM3":8,"gpk-node-slot":1}',
    ]);
    expect(rayNumGpus(worker!)).toBe(8);
    expect(worker!.env.RAY_IP).toBe("ray-head-svc");
    expect(worker!.env.RAY_NODE_TYPE_NAME).toBe("training");
    expect(worker).toMatchObject({ groupName: "training", minReplicas: 1, maxReplicas: 4 });
    expect(kuberayProblems(cluster())).toEqual([]);
  });

  it("writes the container argument that real bash splits into exactly those words", () => {
    const started = kuberayStart(cluster({
      gcsFaultTolerance: { enabled: true, redis: { address: "redis.shared:6379", passwordSecret: { name: "redis", key: "password" } } },
    }));
    for (const start of [started.head, ...started.workerGroups]) {
      expect(start.shell).toMatch(/^ulimit -n \$\{RAY_START_ULIMIT_OPEN_FILES:-65536\}; ray start /);
      const env = { REDIS_PASSWORD: "s3cr3t" };
      expect(bashArgv(start.shell, env)).toEqual(expandEnv(start.args, env));
    }
    expect(started.head.args).toContain("--redis-password=$REDIS_PASSWORD");
    // KubeRay leaves the expansion unquoted: a password with a space reaches Ray as two arguments.
    const spaced = { REDIS_PASSWORD: "pa ss$word" };
    expect(bashArgv(started.head.shell, spaced)).toEqual(expandEnv(started.head.args, spaced));
    expect(expandEnv(started.head.args, spaced)).toContain("ss$word");
  });

  it("passes the GCS fault-tolerance settings to the head and a long reconnect timeout to workers", () => {
    const started = kuberayStart(cluster({
      gcsFaultTolerance: { enabled: true, redis: { address: "redis.shared:6379", passwordSecret: { name: "redis", key: "password" } }, externalStorageNamespace: "ray-research" },
    }));
    expect(started.head.env).toMatchObject({
      RAY_REDIS_ADDRESS: "redis.shared:6379",
      REDIS_PASSWORD: { valueFrom: { secretKeyRef: { name: "redis", key: "password" } } },
      RAY_external_storage_namespace: "ray-research",
    });
    expect(started.workerGroups[0]!.env.RAY_gcs_rpc_server_reconnect_timeout_s).toBe("600");
    expect(started.workerGroups[0]!.env.REDIS_PASSWORD).toBeUndefined();
    const unnamed = kuberayStart(cluster({ gcsFaultTolerance: { enabled: true, redis: { address: "r:6379", passwordSecret: { name: "r", key: "p" } } } }));
    expect(unnamed.head.env.RAY_external_storage_namespace).toEqual({ setByKubeRay: "the RayCluster's metadata.uid" });
  });

  it("reports what KubeRay's validation refuses: num-gpus or labels in rayStartParams beside the group fields", () => {
    const broken = cluster();
    broken.spec.workerGroupSpecs[0].rayStartParams = { "num-gpus": "8", labels: "a=b" };
    expect(kuberayProblems(broken)).toEqual([
      { path: "spec.workerGroupSpecs[0].rayStartParams.num-gpus", message: expect.stringContaining("beside the group's `resources` field") },
      { path: "spec.workerGroupSpecs[0].rayStartParams.labels", message: expect.stringContaining("use the group's `labels` field") },
    ]);
  });

  it("rounds CPU up to whole cores and keeps valued booleans, as KubeRay does", () => {
    const c = cluster();
    c.spec.headGroupSpec.rayStartParams = { "include-dashboard": "false", "log-color": "true", "disable-usage-stats": "true", verbose: "false" };
    const { head } = kuberayStart(c);
    expect(head.args).toContain("--num-cpus=2"); // 1500m
    expect(head.args).toContain("--include-dashboard=false");
    expect(head.args).toContain("--log-color=true");
    expect(head.args).toContain("--disable-usage-stats");
    expect(head.args.some((a) => a.startsWith("--verbose"))).toBe(false);
  });
});

describe("shell words", () => {
  it("removes quotes as bash does and leaves $NAME for expansion", () => {
    expect(shellWords(`ray start  --resources='{"a":1}'  --x="a \\"b\\" $Y" --z=$Z\\ w`)).toEqual(["ray", "start", '--resources={"a":1}', '--x=a "b" $Y', "--z=$Z w"]);
    expect(expandEnv(["--p=$A", "--q=${B}x", "--r=$C", "$C"], { A: "1", B: "2" })).toEqual(["--p=1", "--q=2x", "--r="]);
    expect(() => shellWords("a 'b")).toThrow(/unterminated '/);
  });
});
