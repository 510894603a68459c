/**
 * What KubeRay's operator turns a RayCluster into: each Ray container's `ray start` command
 * and the environment it adds, derived the way KubeRay v1.7.0 does (tag v1.7.0, commit
 * 59d663aeec13760646da3db9c1cf8cfe883e30b7), and the group checks its validation applies
 * before it reconciles anything. Pure: `gpk ray start-args`, the thermal pack and the real-Ray
 * e2e tests read the rendered RayCluster through it.
 *
 * Sources, all under ray-operator/controllers/ray/ at that tag:
 * - common/pod.go: `setMissingRayStartParams` (defaults), `generateRayStartCommand` and
 *   `addWellKnownAcceleratorResources` (num-cpus, memory, num-gpus from the container),
 *   `convertParamMap` (flag form), `updateRayStartParamsResources` / `…Labels` (the group's
 *   `resources` and `labels` fields), `configureGCSFaultTolerance` / `configureRedisFT`,
 *   `setContainerEnvVars`, `BuildPod` (the `ulimit …; ray start …` container argument).
 * - utils/constant.go: ports 6379 (GCS), 8080 (metrics), 52365 (dashboard agent); worker GCS
 *   reconnect timeout "600"; `RAY_ADDRESS` 127.0.0.1 on the head.
 * - utils/util.go: head service `<cluster>-head-svc`, FQDN `<svc>.<ns>.svc.cluster.local`.
 * - utils/resources.go: `IsGPUResourceKey` (a key ending in "gpu", or a MIG device).
 * - utils/validation.go: `validateRayGroupResources`, `validateRayGroupLabels` and the GCS
 *   fault-tolerance checks.
 * Not modelled: TPU and Neuron resources, `rocksdb` GCS storage, the legacy
 * `ray.io/ft-enabled` annotation, RayService-only environment, and user commands that
 * KubeRay prepends to `ray start`.
 */
import { parseQuantity } from "../gpu/quantity";

export const KUBERAY_VERSION = "v1.7.0";
export const KUBERAY_PORTS = { gcs: 6379, metrics: 8080, dashboardAgent: 52365 } as const;
/** `RAY_gcs_rpc_server_reconnect_timeout_s` KubeRay gives workers under GCS fault tolerance. */
export const WORKER_GCS_RECONNECT_TIMEOUT_S = "600";
/** Key of the token in the Secret KubeRay generates for `authOptions.mode: token`. */
export const AUTH_TOKEN_SECRET_KEY = "auth_token";
const CLUSTER_DOMAIN = "cluster.local";
/** Flags whose `true`/`false` value stays written out instead of becoming a bare flag. */
const VALUED_BOOLEANS = new Set(["log-color", "include-dashboard", "include-log-monitor"]);

type Json = Record<string, any>;

/** An env var's value: a literal, a Kubernetes `valueFrom`, or a value KubeRay fills in when it creates the pod. */
export type EnvValue = string | { valueFrom: Json } | { setByKubeRay: string };

export interface RayStart {
  /** What follows `ray start`, after the shell's quote removal; `$NAME` is expanded from `env` by the shell. */
  args: string[];
  env: Record<string, EnvValue>;
  /** The Ray container's `bash -c` argument, as KubeRay writes it. */
  shell: string;
}

export interface RayClusterStart {
  clusterName: string;
  namespace: string;
  rayVersion?: string;
  head: RayStart;
  workerGroups: (RayStart & { groupName: string; minReplicas: number; maxReplicas: number })[];
}

export interface KubeRayProblem {
  /** Path inside the RayCluster, e.g. `spec.workerGroupSpecs[0].rayStartParams.num-gpus`. */
  path: string;
  message: string;
}

/** A RayCluster as rendered: `metadata.name`, `metadata.namespace` and `spec`. */
export interface RayClusterObject {
  metadata: { name: string; namespace?: string; uid?: string };
  spec: Json;
}

/** `IsGPUResourceKey`: Ray counts these as `num-gpus`. */
export function isGpuResourceKey(key: string): boolean {
  return /gpu$/i.test(key) || /^nvidia\.com\/mig-\d+g\.\d+gb$/.test(key);
}

/** apimachinery's `Quantity.Value()`: whole units, rounded up ("500m" → 1). */
function wholeUnits(q: string | number): number {
  return Math.ceil(parseQuantity(q) - 1e-9);
}

export function headServiceFqdn(cluster: RayClusterObject): string {
  const svc = cluster.spec.headGroupSpec?.headService?.metadata?.name ?? `${cluster.metadata.name}-head-svc`;
  return `${svc}.${cluster.metadata.namespace ?? "default"}.svc.${CLUSTER_DOMAIN}`;
}

export function headPort(cluster: RayClusterObject): number {
  const port = cluster.spec.headGroupSpec?.rayStartParams?.port;
  return port === undefined ? KUBERAY_PORTS.gcs : Number(port);
}

/** Problems KubeRay's validation reports before it creates any pod (it refuses the whole cluster). */
export function kuberayProblems(cluster: RayClusterObject): KubeRayProblem[] {
  const problems: KubeRayProblem[] = [];
  const spec = cluster.spec;
  const groups: [string, Json][] = [["spec.headGroupSpec", spec.headGroupSpec ?? {}]];
  (spec.workerGroupSpecs ?? []).forEach((g: Json, i: number) => groups.push([`spec.workerGroupSpecs[${i}]`, g]));
  for (const [at, group] of groups) {
    const params: Json = group.rayStartParams ?? {};
    if (group.resources && Object.keys(group.resources).length > 0) {
      for (const key of ["num-cpus", "num-gpus", "memory", "resources"]) {
        if (key in params) problems.push({ path: `${at}.rayStartParams.${key}`, message: `KubeRay refuses rayStartParams["${key}"] beside the group's \`resources\` field; set it in \`resources\` only` });
      }
    }
    if ("labels" in params) problems.push({ path: `${at}.rayStartParams.labels`, message: "KubeRay refuses rayStartParams[\"labels\"]; use the group's `labels` field" });
  }
  const ft = spec.gcsFaultToleranceOptions;
  if (ft) {
    const head = spec.headGroupSpec ?? {};
    if ("redis-password" in (head.rayStartParams ?? {})) {
      problems.push({ path: "spec.headGroupSpec.rayStartParams.redis-password", message: "KubeRay refuses a Redis password in rayStartParams when gcsFaultToleranceOptions is set; use gcsFaultToleranceOptions.redisPassword" });
    }
    const env: Json[] = head.template?.spec?.containers?.[0]?.env ?? [];
    for (const name of ["REDIS_PASSWORD", "RAY_REDIS_ADDRESS"]) {
      if (env.some((e) => e.name === name)) problems.push({ path: "spec.headGroupSpec.template.spec.containers[0].env", message: `KubeRay refuses ${name} in the head's env when gcsFaultToleranceOptions is set` });
    }
    if (!ft.redisAddress) problems.push({ path: "spec.gcsFaultToleranceOptions.redisAddress", message: "KubeRay requires redisAddress when gcsFaultToleranceOptions is set" });
  }
  return problems;
}

/** The group's `resources` field into rayStartParams (`updateRayStartParamsResources`). */
function applyGroupResources(params: Record<string, string>, resources: Record<string, string> | undefined): void {
  if (!resources) return;
  const custom: Record<string, number> = {};
  for (const [key, value] of Object.entries(resources)) {
    let amount: number;
    try {
      amount = parseQuantity(value);
    } catch {
      continue; // KubeRay logs and skips a value it cannot parse
    }
    const lower = key.toLowerCase();
    if (lower === "cpu") params["num-cpus"] = String(wholeUnits(value));
    else if (lower === "memory") params.memory = String(wholeUnits(value));
    else if (isGpuResourceKey(lower)) params["num-gpus"] = String(wholeUnits(value));
    else custom[key] = amount;
  }
  const keys = Object.keys(custom).sort();
  if (keys.length > 0) params.resources = `'${JSON.stringify(Object.fromEntries(keys.map((k) => [k, custom[k]])))}'`;
}

/** The Ray container's limits (or requests) into num-cpus, memory and num-gpus, where unset. */
function applyContainerResources(params: Record<string, string>, container: Json): void {
  const limits: Json = container.resources?.limits ?? {};
  const requests: Json = container.resources?.requests ?? {};
  if (!("num-cpus" in params)) {
    const cpu = limits.cpu ?? requests.cpu;
    if (cpu !== undefined && wholeUnits(cpu) > 0) params["num-cpus"] = String(wholeUnits(cpu));
  }
  if (!("memory" in params) && limits.memory !== undefined && wholeUnits(limits.memory) > 0) params.memory = String(wholeUnits(limits.memory));
  if (!("num-gpus" in params)) {
    for (const key of Object.keys(limits).sort()) {
      if (isGpuResourceKey(key) && wholeUnits(limits[key]) > 0) {
        params["num-gpus"] = String(wholeUnits(limits[key]));
        break;
      }
    }
  }
}

/** `convertParamMap`: sorted keys; `true` a bare flag, `false` dropped, anything else `--key=value`. */
function flags(params: Record<string, string>): string[] {
  const out: string[] = [];
  for (const key of Object.keys(params).sort()) {
    const value = params[key]!;
    const bool = value.toLowerCase();
    if ((bool === "true" || bool === "false") && !VALUED_BOOLEANS.has(key)) {
      if (bool === "true") out.push(`--${key}`);
    } else {
      out.push(`--${key}=${value}`);
    }
  }
  return out;
}

/**
 * Words of a shell string after quote removal, as bash splits an unquoted command line:
 * single quotes literal, double quotes with `\` escapes, `$NAME` left for the shell to expand.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < line.length && line[i] !== '"'; i++) word += line[i] === "\\" && /["\\$`]/.test(line[i + 1] ?? "") ? line[++i] : line[i];
      if (i >= line.length) throw new Error(`unterminated " in ${JSON.stringify(line)}`);
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * `$NAME` and `${NAME}` in the words, from literal env values, then split on whitespace: what
 * the container's shell does with KubeRay's unquoted `--redis-password=$REDIS_PASSWORD`, so a
 * password with a space becomes two arguments (pathname expansion is not modelled).
 */
export function expandEnv(words: string[], env: Record<string, string>): string[] {
  return words.flatMap((w) => {
    if (!w.includes("$")) return [w];
    const expanded = w.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_, braced, bare) => env[braced ?? bare] ?? "");
    return expanded.split(/[ \t\n]+/).filter((f) => f !== "");
  });
}

function containerEnv(container: Json): Record<string, EnvValue> {
  const env: Record<string, EnvValue> = {};
  for (const e of (container.env ?? []) as Json[]) env[e.name] = e.valueFrom ? { valueFrom: e.valueFrom } : String(e.value ?? "");
  return env;
}

function setIfAbsent(env: Record<string, EnvValue>, name: string, value: EnvValue): void {
  if (!(name in env)) env[name] = value;
}

/** `CheckName`: the generated Secret is named after the cluster (names this long need no shortening). */
function authSecretName(cluster: RayClusterObject): string {
  return cluster.spec.authOptions?.secretName ?? cluster.metadata.name;
}

function startOf(cluster: RayClusterObject, group: Json, kind: "head" | "worker"): RayStart {
  const spec = cluster.spec;
  const container: Json = group.template?.spec?.containers?.[0] ?? {};
  const params: Record<string, string> = Object.fromEntries(Object.entries(group.rayStartParams ?? {}).map(([k, v]) => [k, String(v)]));
  const env = containerEnv(container);
  const fqdn = headServiceFqdn(cluster);
  const port = headPort(cluster);
  applyGroupResources(params, group.resources);
  if (group.labels && Object.keys(group.labels).length > 0) {
    params.labels = Object.keys(group.labels).sort().map((k) => `${k}=${group.labels[k]}`).join(",");
  }
  if (kind === "head" && spec.enableInTreeAutoscaling) {
    params["no-monitor"] = "true";
    const version = spec.autoscalerOptions?.version;
    if (version === "v2" || version === "v1") setIfAbsent(env, "RAY_enable_autoscaler_v2", String(version === "v2"));
  }
  const ft = spec.gcsFaultToleranceOptions;
  if (ft && kind === "head") {
    setIfAbsent(env, "RAY_external_storage_namespace", ft.externalStorageNamespace ?? (cluster.metadata.uid ?? { setByKubeRay: "the RayCluster's metadata.uid" }));
    env.RAY_REDIS_ADDRESS = String(ft.redisAddress);
    if (ft.redisUsername) {
      params["redis-username"] = "$REDIS_USERNAME";
      env.REDIS_USERNAME = ft.redisUsername.valueFrom ? { valueFrom: ft.redisUsername.valueFrom } : String(ft.redisUsername.value ?? "");
    }
    if (ft.redisPassword) {
      params["redis-password"] = "$REDIS_PASSWORD";
      env.REDIS_PASSWORD = ft.redisPassword.valueFrom ? { valueFrom: ft.redisPassword.valueFrom } : String(ft.redisPassword.value ?? "");
    }
  }
  if (ft && kind === "worker") setIfAbsent(env, "RAY_gcs_rpc_server_reconnect_timeout_s", WORKER_GCS_RECONNECT_TIMEOUT_S);
  if (spec.authOptions?.mode === "token") {
    env.RAY_AUTH_MODE = "token";
    env.RAY_AUTH_TOKEN = { valueFrom: { secretKeyRef: { name: authSecretName(cluster), key: AUTH_TOKEN_SECRET_KEY } } };
  }
  // setMissingRayStartParams
  if (kind === "worker" && !("address" in params)) params.address = `${fqdn}:${port}`;
  if (kind === "head" && !("dashboard-host" in params)) params["dashboard-host"] = "0.0.0.0";
  if (!("metrics-export-port" in params)) params["metrics-export-port"] = String(KUBERAY_PORTS.metrics);
  params.block = "true";
  if (!("dashboard-agent-listen-port" in params)) params["dashboard-agent-listen-port"] = String(KUBERAY_PORTS.dashboardAgent);
  applyContainerResources(params, container);

  const command = `ray start ${kind === "head" ? "--head " : ""}${flags(params).map((f) => ` ${f} `).join("")}`;
  if (kind === "worker") {
    env.FQ_RAY_IP = fqdn;
    env.RAY_IP = fqdn.split(".")[0]!;
  }
  env.RAY_CLUSTER_NAME = cluster.metadata.name;
  env.RAY_CLUSTER_NAMESPACE = cluster.metadata.namespace ?? "default";
  env.RAY_CLOUD_INSTANCE_ID = { valueFrom: { fieldRef: { fieldPath: "metadata.name" } } };
  env.RAY_NODE_TYPE_NAME = kind === "head" ? "headgroup" : String(group.groupName);
  env.KUBERAY_GEN_RAY_START_CMD = command;
  setIfAbsent(env, "RAY_PORT", String(port));
  setIfAbsent(env, "RAY_ADDRESS", kind === "head" ? `127.0.0.1:${port}` : `${fqdn}:${port}`);
  env.RAY_USAGE_STATS_KUBERAY_IN_USE = "1";
  if (kind === "head") env.RAY_USAGE_STATS_EXTRA_TAGS = `kuberay_version=${KUBERAY_VERSION};kuberay_crd=RayCluster`;
  env.RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE = "1";
  return { args: shellWords(command).slice(2), env, shell: `ulimit -n \${RAY_START_ULIMIT_OPEN_FILES:-65536}; ${command}` };
}

/** The `ray start` of the head and of each worker group, as KubeRay would run them. */
export function kuberayStart(cluster: RayClusterObject): RayClusterStart {
  const spec = cluster.spec;
  return {
    clusterName: cluster.metadata.name,
    namespace: cluster.metadata.namespace ?? "default",
    rayVersion: spec.rayVersion,
    head: startOf(cluster, spec.headGroupSpec ?? {}, "head"),
    workerGroups: ((spec.workerGroupSpecs ?? []) as Json[]).map((group) => ({
      groupName: String(group.groupName),
      minReplicas: Number(group.minReplicas ?? 0),
      maxReplicas: Number(group.maxReplicas ?? 2147483647),
      ...startOf(cluster, group, "worker"),
    })),
  };
}

/** The `num-gpus` Ray will see on a group's nodes: the flag KubeRay passes, or none. */
export function rayNumGpus(start: RayStart): number | undefined {
  const flag = start.args.find((a) => a.startsWith("--num-gpus="));
  return flag === undefined ? undefined : Number(flag.slice("--num-gpus=".length));
}
