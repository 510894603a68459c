/**
 * `gpk:index:VllmServing`: an OpenAI-compatible endpoint in a tenant's namespace. On GPU
 * pools the pinned vLLM image; on kind the kit's vLLM-style `runtime/serving` bundle on a
 * simulated GPU, with the same engine args. Plus its Service, PodDisruptionBudget and an
 * autoscaler on `vllm:num_requests_waiting`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SERVING_DEFAULTS, type ServingEntry } from "../stacks/config-serving";
import { VLLM_METRICS } from "../gpu/metrics";
import { kedaScaledObjectSpec, servingScaleDown, type ServingMetricsSource } from "./serving-metrics";
import { GPK_SCHEDULER_NAME, GPU_RESOURCE, KIT_LABELS, MANAGED_BY, tolerationFor } from "../gpu";
import { IMAGES, imageRef } from "./pins";
import { restrictedPodSecurity } from "./pod-security";
import { NODE_IMAGE_USER, RuntimeBundleConfigMap, runtimeContainerSecurity } from "./runtime-bundle";
import type { GpuPoolSummary, ServingCapacitySummary, ServingSummary, Target } from "./summaries";

export const SERVING_PORT = 8000;

export interface VllmServingArgs {
  /** `eks`: the pinned vLLM image on real GPUs; `kind`: the kit's vLLM-style engine on a simulated GPU. Required. */
  target: Target;
  /** The endpoint's settings (stacks/config-serving.ts states every default). */
  serving: ServingEntry;
  /** The pool the replicas run on. */
  pool: GpuPoolSummary;
  /** The pool's EC2 instance type (eks), for pricing the endpoint. */
  instanceType?: string;
  /** The entry's key path in the stack config (`gpk:serving[<i>]`), named by the serving-capacity policy. */
  keyPath?: string;
  /** Namespace: the tenant's. */
  namespace: string;
  /** Schedule through the GPU-aware `gpk-scheduler`. Default false. */
  useGpkScheduler?: boolean;
  /** Image holding the runtime bundles (kind). Default: bundle in a ConfigMap. */
  runtimeImage?: string;
  /**
   * What serves the autoscaler's metric: `prometheus-adapter` or `external` (an HPA on the
   * custom metrics API), or `keda` (a ScaledObject querying `prometheusUrl`). Default `prometheus-adapter`.
   */
  metricsSource?: ServingMetricsSource;
  /** The Prometheus KEDA queries. Required with `keda`. */
  prometheusUrl?: string;
}

/**
 * Engine args in vLLM's spelling; the kit's runtime takes the same flags. The waiting-queue
 * bound is the runtime's `--max-waiting` on kind; on vLLM it is `--max-num-queued-reqs`
 * (waiting + running; vllm-project/vllm PR #49445), so running slots are added to it.
 */
export function engineArgs(s: ServingEntry, target: Target): string[] {
  const args = [
    "--port", String(SERVING_PORT),
    "--served-model-name", s.servedModelName ?? s.model,
    "--tensor-parallel-size", String(s.tensorParallelSize),
    "--gpu-memory-utilization", String(s.gpuMemoryUtilization),
    "--max-num-seqs", String(s.maxNumSeqs),
    "--block-size", String(s.blockSize),
    "--kv-cache-dtype", s.kvCacheDtype,
    s.enablePrefixCaching ? "--enable-prefix-caching" : "--no-enable-prefix-caching",
  ];
  if (s.maxModelLen !== undefined) args.push("--max-model-len", String(s.maxModelLen));
  if (s.maxNumBatchedTokens !== undefined) args.push("--max-num-batched-tokens", String(s.maxNumBatchedTokens));
  if (target === "eks") args.push("--max-num-queued-reqs", String(s.maxWaiting + s.maxNumSeqs));
  else args.push("--max-waiting", String(s.maxWaiting));
  return args;
}

/** Labels of one endpoint's pods; the Service, PDB and autoscaler select on them. */
export function servingLabels(s: ServingEntry, tenant: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": s.name,
    "app.kubernetes.io/component": "serving",
    [KIT_LABELS.tenant]: tenant,
    [KIT_LABELS.managedBy]: MANAGED_BY,
  };
}

/** Scale out when requests queue: the per-replica average of `vllm:num_requests_waiting`. */
export function servingAutoscalerSpec(s: ServingEntry) {
  return {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: s.name },
    minReplicas: s.minReplicas,
    maxReplicas: s.maxReplicas,
    metrics: [{
      type: "Pods",
      // Served by a custom-metrics adapter (prometheus-adapter) from the pods' /metrics.
      pods: { metric: { name: VLLM_METRICS.waiting }, target: { type: "AverageValue", averageValue: String(s.targetWaitingPerReplica) } },
    }],
    // Scale in slowly: a replica takes minutes to load its model.
    behavior: { scaleDown: servingScaleDown() },
  };
}

/**
 * The vLLM container's writable places: the model cache (a per-pod ephemeral volume), shared
 * memory for tensor-parallel workers, and /tmp for compile caches; the root stays read-only.
 */
function vllmVolumes(s: ServingEntry) {
  return {
    volumes: [
      { name: "model-cache", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${s.modelCacheGi}Gi` } } } } } },
      { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "8Gi" } },
      { name: "tmp", emptyDir: { sizeLimit: "20Gi" } },
    ],
    volumeMounts: [
      { name: "model-cache", mountPath: "/models" },
      { name: "dshm", mountPath: "/dev/shm" },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
}

/** The entry's traffic, SLO and engine configuration as the serving-capacity policy reads them. */
export function servingCapacitySummary(s: ServingEntry, args: Pick<VllmServingArgs, "pool" | "instanceType" | "keyPath">): ServingCapacitySummary {
  return {
    keyPath: args.keyPath ?? `gpk:serving[${JSON.stringify(s.name)}]`,
    model: s.model, gpu: args.pool.product, tensorParallelSize: s.tensorParallelSize, maxNumSeqs: s.maxNumSeqs,
    maxNumBatchedTokens: s.maxNumBatchedTokens ?? null, maxModelLen: s.maxModelLen ?? null, gpuMemoryUtilization: s.gpuMemoryUtilization,
    blockSize: s.blockSize, kvCacheDtype: s.kvCacheDtype, enablePrefixCaching: s.enablePrefixCaching,
    instanceType: args.instanceType ?? null, gpusPerNode: args.pool.gpusPerNode, minReplicas: s.minReplicas, maxReplicas: s.maxReplicas,
    traffic: { ...s.traffic! }, slo: { ...s.slo! },
  };
}

export class VllmServing extends pulumi.ComponentResource {
  public readonly deployment: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;

  constructor(name: string, args: VllmServingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:VllmServing", name, {}, opts);
    const s = args.serving;
    if (s.minReplicas > s.maxReplicas) {
      throw new pulumi.InputPropertyError({ propertyPath: "serving.minReplicas", reason: "`serving.minReplicas` must not exceed `serving.maxReplicas`." });
    }
    const labels = servingLabels(s, s.tenant);
    const metadata = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });
    const gpus = String(s.tensorParallelSize);
    const gpuResources = { requests: { [GPU_RESOURCE]: gpus, cpu: "4", memory: "32Gi" }, limits: { [GPU_RESOURCE]: gpus, memory: "64Gi" } };
    const probes = {
      readinessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 5, failureThreshold: 3 },
      livenessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 15, failureThreshold: 4 },
      // Loading weights takes minutes; don't let liveness kill a replica that is still loading.
      startupProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 10, failureThreshold: 90 },
    };

    let container: k8s.types.input.core.v1.Container;
    let volumes: k8s.types.input.core.v1.Volume[];
    let annotations: Record<string, string> = {};
    if (args.target === "eks") {
      const mounts = vllmVolumes(s);
      container = {
        name: "vllm",
        image: imageRef(IMAGES.vllm),
        command: ["vllm", "serve"],
        args: [s.model, ...engineArgs(s, "eks")],
        env: [
          { name: "HF_HOME", value: "/models" },
          { name: "HOME", value: "/tmp" },
          ...(s.hfTokenSecret ? [{ name: "HF_TOKEN", valueFrom: { secretKeyRef: s.hfTokenSecret } }] : []),
        ],
        resources: { ...gpuResources, requests: { ...gpuResources.requests, "ephemeral-storage": "10Gi" } },
        volumeMounts: mounts.volumeMounts,
      };
      volumes = mounts.volumes;
    } else {
      const runtime = new RuntimeBundleConfigMap(`${name}-runtime`, { pkg: "serving", namespace: args.namespace, image: args.runtimeImage }, { parent: this });
      const parts = runtime.podParts;
      container = {
        name: "serving",
        image: parts.image,
        command: parts.command,
        args: ["--model", s.model, "--gpu", args.pool.product, ...engineArgs(s, "kind")],
        resources: { requests: { [GPU_RESOURCE]: gpus, cpu: "100m", memory: "256Mi" }, limits: { [GPU_RESOURCE]: gpus, memory: "512Mi" } },
        volumeMounts: parts.volumeMounts,
      };
      volumes = parts.volumes;
      annotations = parts.annotations;
    }

    this.deployment = new k8s.apps.v1.Deployment(name, {
      metadata: metadata(s.name),
      spec: {
        selector: { matchLabels: labels },
        // The autoscaler owns the replica count once the Deployment exists.
        replicas: s.minReplicas,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels, annotations },
          spec: {
            ...(args.useGpkScheduler ? { schedulerName: GPK_SCHEDULER_NAME } : {}),
            nodeSelector: { [KIT_LABELS.pool]: args.pool.poolName },
            tolerations: args.pool.nodeTaints.map(tolerationFor),
            automountServiceAccountToken: false,
            // One uid for both targets: the Node image's `node` user; the vLLM image has no user of
            // its own, so it runs as that uid too, with HOME and caches on the writable volumes.
            securityContext: restrictedPodSecurity({ ...NODE_IMAGE_USER, fsGroup: NODE_IMAGE_USER.gid }),
            terminationGracePeriodSeconds: 60,
            containers: [{
              ...container,
              ports: [{ name: "http", containerPort: SERVING_PORT }],
              securityContext: runtimeContainerSecurity(),
              ...probes,
            }],
            volumes,
          },
        },
      },
    }, { parent: this, ignoreChanges: ["spec.replicas"] });

    this.service = new k8s.core.v1.Service(name, {
      metadata: metadata(s.name),
      spec: { selector: labels, ports: [{ name: "http", port: SERVING_PORT, targetPort: "http" }] },
    }, { parent: this });

    // One replica at a time may be evicted, so a drain never takes the endpoint down.
    new k8s.policy.v1.PodDisruptionBudget(name, {
      metadata: metadata(s.name),
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    }, { parent: this });

    const source = args.metricsSource ?? "prometheus-adapter";
    if (source === "keda") {
      if (!args.prometheusUrl) throw new pulumi.InputPropertyError({ propertyPath: "prometheusUrl", reason: "`prometheusUrl`: expected the Prometheus KEDA queries when metricsSource is keda" });
      new k8s.apiextensions.CustomResource(name, {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: metadata(s.name),
        spec: kedaScaledObjectSpec(s, args.namespace, args.prometheusUrl),
      }, { parent: this });
    } else {
      new k8s.autoscaling.v2.HorizontalPodAutoscaler(name, {
        metadata: metadata(s.name),
        spec: servingAutoscalerSpec(s),
      }, { parent: this });
    }

    const summary: ServingSummary = {
      name: s.name,
      namespace: args.namespace,
      pool: args.pool.poolName,
      model: s.model,
      gpusPerReplica: s.tensorParallelSize,
      minReplicas: s.minReplicas,
      maxReplicas: s.maxReplicas,
      maxWaiting: s.maxWaiting,
      metricsSource: source,
      gpuMemoryUtilization: s.gpuMemoryUtilization,
      url: `http://${s.name}.${args.namespace}.svc:${SERVING_PORT}/v1`,
      ...(s.traffic && s.slo ? { capacity: servingCapacitySummary(s, args) } : {}),
    };
    this.registerOutputs({ ...summary });
  }
}

export { SERVING_DEFAULTS };
