/**
 * HAMi's scheduler extender as a third profile of bench:scheduler, as data and pure text:
 * the node annotations its device plugin would write for KWOK nodes, the KubeSchedulerConfiguration
 * of the kube-scheduler that calls it, and the command lines of both processes.
 *
 * Facts from HAMi v2.10.0 (github.com/Project-HAMi/HAMi, commit 4707fb02c91c, tools/pins.json):
 * - The scheduler reads a node's GPUs from `hami.io/node-nvidia-register`, a JSON array of
 *   `DeviceInfo` (pkg/device/devices.go: json tags id, index, count, devmem, devcore, type, numa,
 *   mode, health, all omitempty), which the device plugin writes with `MarshalNodeDevices`
 *   (pkg/device-plugin/nvidiadevice/nvinternal/plugin/register.go). docs/develop/protocol.md still
 *   describes the older `id,count,mem,core,type,numa,health:` text; the NVIDIA backend no longer
 *   reads it (pkg/device/nvidia/device.go GetNodeDevices calls UnMarshalNodeDevices).
 * - Per GPU the plugin writes: id = NVML UUID, index = NVML index, count = deviceSplitCount
 *   (chart default 10), devmem = total MiB × deviceMemoryScaling, devcore = 100 ×
 *   deviceCoreScaling, type = NVML name, prefixed `NVIDIA-` unless it starts with NVIDIA,
 *   numa = the PCI device's NUMA node, mode = the operating mode (`hami-core`), health.
 * - A node's devices count as healthy while its allocatable `nvidia.com/gpu` is above zero
 *   (pkg/device/nvidia/device.go CheckHealth); the scheduler itself writes the handshake
 *   annotation `hami.io/node-handshake: Requesting_<YYYY-MM-DD hh:mm:ss>` on first sight of a
 *   node (pkg/device/devices.go CheckHealth). v2.10.0's device plugin writes no handshake.
 * - Filter answers with its single pick and writes the decision onto the pod (hami.io/vgpu-node,
 *   hami.io/vgpu-time, hami.io/vgpu-devices-to-allocate and -allocated); bind takes the node lock
 *   `hami.io/mutex.lock`, sets hami.io/bind-phase=allocating and hami.io/bind-time, and creates
 *   the Binding itself (pkg/scheduler/scheduler.go Filter, Bind). The device plugin's Allocate
 *   sets bind-phase=success and removes the lock (nvinternal/plugin/util.go); see hami-profile.ts
 *   for what stands in for it on KWOK nodes.
 * - Verbs: POST /filter and /bind (no prioritize), plain HTTP unless --cert_file and --key_file
 *   are given, on --http_bind (cmd/scheduler/main.go); GET /healthz answers 200.
 */
import { GPU_PRODUCTS, GPU_RESOURCE, type GpuProduct } from "../gpu";
import { deviceIdentities } from "../runtime/gpu-sim/node";

/** The profile's name (charts/hami/values.yaml `schedulerName`). */
export const HAMI_SCHEDULER_NAME = "hami-scheduler";

/** The annotations HAMi's NVIDIA backend reads and writes (pkg/device/nvidia/device.go, pkg/util/types.go, pkg/util/nodelock). */
export const HAMI_ANNOTATIONS = {
  register: "hami.io/node-nvidia-register",
  handshake: "hami.io/node-handshake",
  nodeLock: "hami.io/mutex.lock",
  assignedNode: "hami.io/vgpu-node",
  assignedTime: "hami.io/vgpu-time",
  bindTime: "hami.io/bind-time",
  bindPhase: "hami.io/bind-phase",
  devicesToAllocate: "hami.io/vgpu-devices-to-allocate",
  devicesAllocated: "hami.io/vgpu-devices-allocated",
} as const;

/**
 * The handshake annotations HAMi's scheduler writes on first sight of each node, one per vendor
 * backend that registers a handshake key: with the NVIDIA-only device config every backend
 * still starts, and these five set a key (pkg/device/nvidia, biren, hygon, vastai and
 * kunlun/vdevice.go). For each one it GETs the node and PATCHes the annotation
 * (pkg/device/devices.go CheckHealth), paced by its client's QPS.
 */
export const HAMI_HANDSHAKE_KEYS = [
  "hami.io/node-handshake",
  "hami.io/node-handshake-biren",
  "hami.io/node-handshake-dcu",
  "hami.io/node-handshake-va",
  "hami.io/node-handshake-xpu",
] as const;

/** Values of hami.io/bind-phase (pkg/util/types.go). */
export const HAMI_BIND_PHASE = { allocating: "allocating", success: "success", failed: "failed" } as const;

/** The NVIDIA resource names of HAMi's chart (charts/hami/values.yaml), which its device config repeats. */
export const HAMI_RESOURCES = {
  count: GPU_RESOURCE,
  memory: "nvidia.com/gpumem",
  memoryPercentage: "nvidia.com/gpumem-percentage",
  cores: "nvidia.com/gpucores",
  priority: "nvidia.com/priority",
} as const;

/** One GPU as `hami.io/node-nvidia-register` lists it (DeviceInfo's json tags). */
export interface HamiDevice {
  id: string;
  index: number;
  count: number;
  devmem: number;
  devcore: number;
  type: string;
  numa: number;
  mode: string;
  health: boolean;
}

export interface HamiNodeOptions {
  /**
   * Also write the handshakes HAMi's scheduler leaves on a node it has seen, as of this time:
   * a node then looks as it does once HAMi has run, and HAMi's first pass over 5,000 nodes
   * does not spend 50,000 API calls (two per handshake) rewriting them.
   */
  handshakeAt?: Date;
  /** deviceSplitCount: tasks one GPU may hold (chart default 10). */
  splitCount?: number;
  /** deviceMemoryScaling (default 1). */
  memoryScaling?: number;
  /** deviceCoreScaling (default 1). */
  coreScaling?: number;
}

/** HAMi's device plugin defaults (charts/hami/values.yaml devicePlugin). */
export const HAMI_DEVICE_PLUGIN_DEFAULTS = { splitCount: 10, memoryScaling: 1, coreScaling: 1, mode: "hami-core" } as const;

/**
 * The GPUs of one node as HAMi's device plugin would register them: the identities the kit's
 * simulated GPU node gives them (UUIDs from the node name, NUMA halves as on an HGX baseboard).
 */
export function hamiDevices(nodeName: string, gpus: number, product: GpuProduct = "h100", options: HamiNodeOptions = {}): HamiDevice[] {
  if (!Number.isInteger(gpus) || gpus < 1) throw new Error(`gpus: expected a whole number of at least 1, got ${gpus}`);
  const split = options.splitCount ?? HAMI_DEVICE_PLUGIN_DEFAULTS.splitCount;
  if (!Number.isInteger(split) || split < 1) throw new Error(`splitCount: expected a whole number of at least 1, got ${split}`);
  const spec = GPU_PRODUCTS[product];
  const type = spec.smiName.startsWith("NVIDIA") ? spec.smiName : `NVIDIA-${spec.smiName}`;
  // register.go: int32(memoryTotal / 1024 / 1024), then × deviceMemoryScaling truncated to int32.
  const devmem = Math.trunc(spec.memoryMiB * (options.memoryScaling ?? HAMI_DEVICE_PLUGIN_DEFAULTS.memoryScaling));
  const devcore = Math.trunc((options.coreScaling ?? HAMI_DEVICE_PLUGIN_DEFAULTS.coreScaling) * 100);
  return deviceIdentities(nodeName, gpus, gpus >= 4 ? 2 : 1).map((d) => ({
    id: d.uuid,
    index: d.index,
    count: split,
    devmem,
    devcore,
    type,
    numa: d.numaNode,
    mode: HAMI_DEVICE_PLUGIN_DEFAULTS.mode,
    health: true,
  }));
}

/**
 * The register annotation's text, byte for byte what Go's encoding/json makes of
 * MarshalNodeDevices' []*DeviceInfo: struct order, zero values left out (omitempty).
 */
export function encodeHamiRegister(devices: HamiDevice[]): string {
  const entries = devices.map((d) => {
    const fields: [string, unknown][] = [
      ["id", d.id], ["index", d.index], ["count", d.count], ["devmem", d.devmem], ["devcore", d.devcore],
      ["type", d.type], ["numa", d.numa], ["mode", d.mode], ["health", d.health],
    ];
    return `{${fields.filter(([, v]) => v !== 0 && v !== "" && v !== false).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
  });
  return `[${entries.join(",")}]`;
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Reads a register annotation by the rules HAMi's scheduler applies (UnMarshalNodeDevices into
 * DeviceInfo, then GetNodeDevices): a JSON array; absent fields are zero values; whole numbers
 * within their Go types (int32 count, devmem, devcore; uint index); an empty list is an error.
 * Go matches JSON keys to fields case-insensitively, and so does this.
 */
export function decodeHamiRegister(text: string): HamiDevice[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${HAMI_ANNOTATIONS.register}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${HAMI_ANNOTATIONS.register}: expected a JSON array of devices`);
  if (parsed.length === 0) throw new Error(`${HAMI_ANNOTATIONS.register}: no gpu found on node`);
  return parsed.map((raw, i) => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${HAMI_ANNOTATIONS.register}[${i}]: expected an object`);
    const lower = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v] as const));
    const int = (key: string, min: number, max: number): number => {
      const v = lower.get(key) ?? 0;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new Error(`${HAMI_ANNOTATIONS.register}[${i}].${key}: expected a whole number in [${min}, ${max}], got ${JSON.stringify(v)}`);
      return v;
    };
    const str = (key: string): string => {
      const v = lower.get(key) ?? "";
      if (typeof v !== "string") throw new Error(`${HAMI_ANNOTATIONS.register}[${i}].${key}: expected a string, got ${JSON.stringify(v)}`);
      return v;
    };
    const health = lower.get("health") ?? false;
    if (typeof health !== "boolean") throw new Error(`${HAMI_ANNOTATIONS.register}[${i}].health: expected true or false, got ${JSON.stringify(health)}`);
    return {
      id: str("id"),
      index: int("index", 0, Number.MAX_SAFE_INTEGER),
      count: int("count", -INT32_MAX - 1, INT32_MAX),
      devmem: int("devmem", -INT32_MAX - 1, INT32_MAX),
      devcore: int("devcore", -INT32_MAX - 1, INT32_MAX),
      type: str("type"),
      numa: int("numa", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      mode: str("mode"),
      health,
    };
  });
}

/** `Requesting_<YYYY-MM-DD hh:mm:ss>` in local time, as HAMi writes it (Go's time.DateTime, time.Local). */
export function hamiHandshake(at: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `Requesting_${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}

/** The annotations a KWOK node carries so HAMi sees `gpus` whole GPUs of `product` on it. */
export function hamiNodeAnnotations(nodeName: string, gpus: number, product: GpuProduct = "h100", options: HamiNodeOptions = {}): Record<string, string> {
  const handshakes = options.handshakeAt ? Object.fromEntries(HAMI_HANDSHAKE_KEYS.map((key) => [key, hamiHandshake(options.handshakeAt!)])) : {};
  return { [HAMI_ANNOTATIONS.register]: encodeHamiRegister(hamiDevices(nodeName, gpus, product, options)), ...handshakes };
}

/**
 * The nodes HAMi's scheduler has registered, from its /metrics: `hami_gpu_memory_limit_bytes`
 * has one series per GPU of each node in its last completed pass, the same pass that lets
 * filter answer (cmd/scheduler/metrics.go; pkg/scheduler/scheduler.go register).
 */
export function hamiRegisteredNodes(metrics: string): Set<string> {
  const nodes = new Set<string>();
  for (const m of metrics.matchAll(/^hami_gpu_memory_limit_bytes\{[^}]*\bnode="([^"]*)"/gm)) nodes.add(m[1]!);
  return nodes;
}

/** One device of a pod's decision annotation: `uuid,type,usedmem,usedcores` (pkg/device/devices.go DecodeContainerDevices). */
export interface HamiContainerDevice {
  uuid: string;
  type: string;
  usedmem: number;
  usedcores: number;
}

/**
 * hami.io/vgpu-devices-allocated as HAMi writes it: containers separated by `;`, each a list of
 * devices each ended by `:` (docs/develop/protocol.md "Schedule Decision"). One entry per
 * container, empty where a container has none.
 */
export function decodeHamiPodDevices(text: string): HamiContainerDevice[][] {
  const containers = text.split(";");
  if (containers[containers.length - 1] === "") containers.pop();
  return containers.map((container, c) => container.split(":").filter((d) => d.includes(",")).map((device) => {
    const [uuid, type, mem, cores] = device.split(",");
    if (cores === undefined) throw new Error(`${HAMI_ANNOTATIONS.devicesAllocated}: container ${c}: ${JSON.stringify(device)} has fewer than 4 fields`);
    const num = (v: string, what: string) => {
      if (!/^-?\d+$/.test(v)) throw new Error(`${HAMI_ANNOTATIONS.devicesAllocated}: container ${c}: ${what} ${JSON.stringify(v)} is not a whole number`);
      return Number(v);
    };
    return { uuid: uuid!, type: type!, usedmem: num(mem!, "memory"), usedcores: num(cores, "cores") };
  }));
}

/**
 * The scheduler's --device-config-file: the NVIDIA section of the chart's device ConfigMap
 * (charts/hami/templates/scheduler/device-configmap.yaml) with its defaults. HAMi refuses to
 * start without a file (pkg/scheduler/config/config.go InitDevices).
 */
export function hamiDeviceConfig() {
  return {
    nvidia: {
      resourceCountName: HAMI_RESOURCES.count,
      resourceMemoryName: HAMI_RESOURCES.memory,
      resourceMemoryPercentageName: HAMI_RESOURCES.memoryPercentage,
      resourceCoreName: HAMI_RESOURCES.cores,
      resourcePriorityName: HAMI_RESOURCES.priority,
      overwriteEnv: false,
      defaultMemory: 0,
      defaultCores: 0,
      defaultGPUNum: 1,
      memoryFactor: 1,
      deviceSplitCount: HAMI_DEVICE_PLUGIN_DEFAULTS.splitCount,
      deviceMemoryScaling: HAMI_DEVICE_PLUGIN_DEFAULTS.memoryScaling,
      deviceCoreScaling: HAMI_DEVICE_PLUGIN_DEFAULTS.coreScaling,
    },
  };
}

/**
 * The extenders entry that calls HAMi over loopback, as the chart's scheduler ConfigMap has it
 * without the admission webhook (charts/hami/templates/scheduler/configmap.yaml): filter and
 * bind, nodeCacheCapable (with full Nodes HAMi takes its dry-run path, which records nothing),
 * and HAMi's resources managed by it alone (ignoredByScheduler).
 */
export function hamiExtender(port: number, httpTimeout = "30s") {
  return {
    urlPrefix: `http://127.0.0.1:${port}`,
    enableHTTPS: false,
    filterVerb: "filter",
    bindVerb: "bind",
    nodeCacheCapable: true,
    weight: 1,
    httpTimeout,
    managedResources: Object.values(HAMI_RESOURCES).map((name) => ({ name, ignoredByScheduler: true })),
    ignorable: false,
  };
}

export interface HamiSchedulerConfigOptions {
  /** HAMi's extender port on 127.0.0.1. */
  extenderPort: number;
  /** The kube-scheduler's kubeconfig. */
  kubeconfig: string;
  /** Client rate limit toward the API server (kube-scheduler's defaults are 50 and 100). */
  qps: number;
  burst: number;
  /** Default false: the bench runs one scheduler per profile. */
  leaderElect?: boolean;
  /** Left out (kube-scheduler's adaptive default), as HAMi's chart does, unless given. */
  percentageOfNodesToScore?: number;
}

/** A KubeSchedulerConfiguration with the one profile `hami-scheduler`, calling HAMi. */
export function hamiKubeSchedulerConfiguration(o: HamiSchedulerConfigOptions) {
  return {
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig: o.kubeconfig, qps: o.qps, burst: o.burst },
    leaderElection: { leaderElect: o.leaderElect ?? false },
    ...(o.percentageOfNodesToScore === undefined ? {} : { percentageOfNodesToScore: o.percentageOfNodesToScore }),
    profiles: [{ schedulerName: HAMI_SCHEDULER_NAME }],
    extenders: [hamiExtender(o.extenderPort)],
  };
}

/** A process to start: the same shape as cli/local/binaries/plan.ts ProcessSpec, plus its environment. */
export interface HamiProcess {
  name: "hami-scheduler" | "hami-kube-scheduler";
  command: string;
  args: string[];
  port: number;
  ready: { kind: "tcp" } | { kind: "http"; path: string };
  env: Record<string, string>;
}

export interface HamiSchedulerProcessOptions {
  /** The hami-scheduler binary (`gpk tools build --only hami`). */
  bin: string;
  /** Its kubeconfig: HAMi reads $KUBECONFIG, and has no flag for it (pkg/util/client/client.go). */
  kubeconfig: string;
  deviceConfigFile: string;
  port: number;
  metricsPort: number;
  /** Client rate limit (HAMi's own defaults are client-go's 5 and 10). */
  qps: number;
  burst: number;
  /** binpack (the chart's default) or spread. */
  nodePolicy?: "binpack" | "spread";
  /** spread (the chart's default), binpack, topology-aware or mutex. */
  gpuPolicy?: "spread" | "binpack" | "topology-aware" | "mutex";
}

/** HAMi's scheduler on 127.0.0.1, plain HTTP, metrics on loopback too (its default binds every address). */
export function hamiSchedulerProcess(o: HamiSchedulerProcessOptions): HamiProcess {
  return {
    name: "hami-scheduler",
    command: o.bin,
    args: [
      `--http_bind=127.0.0.1:${o.port}`,
      `--scheduler-name=${HAMI_SCHEDULER_NAME}`,
      `--metrics-bind-address=127.0.0.1:${o.metricsPort}`,
      `--node-scheduler-policy=${o.nodePolicy ?? "binpack"}`,
      `--gpu-scheduler-policy=${o.gpuPolicy ?? "spread"}`,
      `--device-config-file=${o.deviceConfigFile}`,
      `--kube-qps=${o.qps}`,
      `--kube-burst=${o.burst}`,
      "--leader-elect=false",
    ],
    port: o.port,
    ready: { kind: "http", path: "/healthz" },
    env: { KUBECONFIG: o.kubeconfig },
  };
}

/** The kube-scheduler of the HAMi profile, on its configuration file, serving on 127.0.0.1. */
export function hamiKubeSchedulerProcess(o: { bin: string; configFile: string; kubeconfig: string; port: number; certDir: string }): HamiProcess {
  return {
    name: "hami-kube-scheduler",
    command: o.bin,
    args: [
      `--config=${o.configFile}`,
      `--authentication-kubeconfig=${o.kubeconfig}`,
      `--authorization-kubeconfig=${o.kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${o.port}`,
      `--cert-dir=${o.certDir}`,
    ],
    port: o.port,
    ready: { kind: "tcp" },
    env: {},
  };
}
