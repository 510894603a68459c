/**
 * The one home of every image and Helm chart the kit deploys. Images are pinned by
 * digest (a tag alone can move); charts by exact version. Bump them here only.
 *
 * How a pin gets here: no registry is reachable from where the kit is built, so every
 * digest below was read from public files that pair the tag with the digest (registry
 * metadata mirrors such as docker-library/repo-info, release-promotion manifests,
 * Renovate/Dependabot-maintained lock files and Dockerfiles). Each pin's comment names
 * where it was seen and when it was checked. Never add a digest that was not seen.
 */

/**
 * What the digest addresses. An `index` digest (OCI image index / manifest list) works on
 * every platform the image ships; a platform digest pins one architecture only, so a
 * cluster with other nodes must override it.
 */
export type DigestKind = "index" | "linux/amd64" | "unverified-kind";

/** A container image pinned by digest; `imageRef(pin)` is what goes into a pod spec. */
export interface ImagePin {
  repository: string;
  tag: string;
  digest: string;
  /** Absent means not yet established; see DigestKind. */
  digestKind?: DigestKind;
}

/** `repository:tag@digest`: the runtime resolves the digest, the tag is kept for humans. */
export function imageRef(pin: ImagePin): string {
  return `${pin.repository}:${pin.tag}@${pin.digest}`;
}

/** A Helm chart pinned to an exact version in its upstream repository. */
export interface ChartPin {
  chart: string;
  version: string;
  repo: string;
  /** The image this chart version deploys when values leave `image.*` alone. */
  defaultImage?: string;
}

export const CHARTS = {
  /**
   * NVIDIA k8s-device-plugin (github.com/NVIDIA/k8s-device-plugin). 0.17.1 exists: its
   * packaged nvidia-device-plugin-0.17.1.tgz is checksum-pinned in public deploy scripts
   * (checked 2026-11-27). Newer: 0.19.3 is what NVIDIA's own dcgm-exporter CI ran against
   * in 2026-07 (NVIDIA/dcgm-exporter PR #712).
   */
  nvidiaDevicePlugin: {
    chart: "nvidia-device-plugin",
    version: "0.17.1",
    repo: "https://nvidia.github.io/k8s-device-plugin",
    // The chart's image tag defaults to "v" + appVersion.
    defaultImage: "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
  },
  /**
   * NVIDIA dcgm-exporter (github.com/NVIDIA/dcgm-exporter). The chart version tracks the
   * exporter half of the release tag (chart 4.8.3 ships 4.6.0-4.8.3, per NVIDIA/dcgm-exporter
   * PR #712), so chart 4.1.1 ships the 4.2.3-4.1.1 release. Newest seen: 4.8.4 (2026-09).
   */
  dcgmExporter: {
    chart: "dcgm-exporter",
    version: "4.1.1",
    repo: "https://nvidia.github.io/dcgm-exporter/helm-charts",
    defaultImage: "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.1-ubuntu22.04",
  },
  /**
   * prometheus-adapter (prometheus-community/helm-charts, charts/prometheus-adapter/Chart.yaml
   * at commit cf408a29: version 5.3.0, appVersion v0.12.0), which serves the serving
   * autoscaler's `vllm:num_requests_waiting` on the custom metrics API. Its image defaults to
   * registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0 (tag; no digest sighted).
   */
  prometheusAdapter: {
    chart: "prometheus-adapter",
    version: "5.3.0",
    repo: "https://prometheus-community.github.io/helm-charts",
    defaultImage: "registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0",
  },
  /**
   * KubeRay operator, matching the CRDs in data/schemas/kuberay-v1.7.0. Installed as
   * `helm install kuberay kuberay/kuberay-operator --version 1.7.0` in public guides (2026-09).
   */
  kuberayOperator: {
    chart: "kuberay-operator",
    version: "1.7.0",
    repo: "https://ray-project.github.io/kuberay-helm/",
    defaultImage: "quay.io/kuberay/operator:v1.7.0",
  },
} as const satisfies Record<string, ChartPin>;

export const IMAGES = {
  /**
   * Official Node.js 22 LTS, slim Debian bookworm; runs the bundled `node /opt/gpk/<pkg>.js`.
   * Seen 2026-11-27 in docker-library/repo-info repos/node/remote/22.23.2-bookworm-slim.md
   * (commit 3179cb4d, OCI index of 8 manifests, NODE_VERSION=22.23.2), the same digest under
   * node:22-bookworm-slim there, and in six unrelated public Dockerfiles.
   */
  node: {
    repository: "docker.io/library/node",
    tag: "22.23.2-bookworm-slim",
    digest: "sha256:48e4b67d85f87bd551df43704e24d252f56cc5f8e9718841aace50f19948f0f9",
    digestKind: "index",
  },
  /**
   * vLLM OpenAI-compatible server, release v0.28.0 (declares Ray 2.58.0).
   * Seen 2026-11-27 paired with the v0.28.0 tag in four unrelated public Dockerfiles/docs,
   * two of which call it the official multi-arch manifest (amd64 + arm64); also pulled on
   * arm64 GB300 hosts in a third repo.
   */
  vllm: {
    repository: "docker.io/vllm/vllm-openai",
    tag: "v0.28.0",
    digest: "sha256:61fc8a896b0a4fbbbdc063bc4b0dbc25ce98e02b5050c24aeb7830ac02039b14",
    digestKind: "index",
  },
  /**
   * Upstream kube-scheduler for the second profile `gpk-scheduler`. Keep within one minor
   * of the cluster's kube-apiserver (Kubernetes version-skew policy).
   * Seen 2026-11-27 in a Renovate-maintained Terraform image map (randomcoww homelab,
   * several revisions) and, independently, in a Talos machine config whose image-lock
   * test asserts the same pair. Older cross-check: kubernetes/k8s.io
   * registry.k8s.io/images/k8s-staging-kubernetes/images.yaml (commit ecf019a8) is the
   * promotion manifest for this repository; its kube-scheduler digests for v1.31.0 and
   * v1.33.1 match kubelet-reported image IDs in public node dumps.
   */
  kubeScheduler: {
    repository: "registry.k8s.io/kube-scheduler",
    tag: "v1.36.2",
    digest: "sha256:94dfc9f285718a06bb873947959b8514ed95dddaa7c74d765cc346fdfa684859",
    digestKind: "unverified-kind",
  },
  /**
   * Redis for KubeRay GCS fault tolerance (any RESP server works; swap for valkey if the
   * Redis 8 licence terms do not suit). Seen 2026-11-27 in docker-library/repo-info
   * repos/redis/remote/8.10.2-alpine.md (commit 0bdd9440, OCI index of 14 manifests), in a
   * public Helm chart's values (repository redis, tag 8.10.2-alpine, this digest) and in a
   * design doc that verified it against the registry.
   */
  redis: {
    repository: "docker.io/library/redis",
    tag: "8.10.2-alpine",
    digest: "sha256:72cedd9603038893af961e90ac5e1a1a0d8377d5e338dbdad8fe284ea25de18f",
    digestKind: "index",
  },
  /**
   * Node image of the local kind cluster (`gpk local up`): Kubernetes v1.33.1, the image kind
   * v0.29.0 released. Seen 2026-11-27 with this digest in many independent public repos
   * (Makefiles, e2e scripts, kind configs citing the kind v0.29.0 release notes).
   */
  kindNode: {
    repository: "kindest/node",
    tag: "v1.33.1",
    digest: "sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f",
    digestKind: "index",
  },
  /**
   * Ray head (and CPU-only / kind workers). Head and workers must run the same Ray and
   * Python versions, so this and `rayGpu` are a matched 2.55.1 / py3.10 pair; KubeRay 1.7
   * supports it. Seen 2026-11-27 together with `rayGpu` in one public repo's pinned image
   * constants (a GPU sort benchmark); no second independent sighting was found for either
   * Ray digest, and whether they address an index or one platform is not established.
   */
  ray: {
    repository: "docker.io/rayproject/ray",
    tag: "2.55.1-py310",
    digest: "sha256:bddf81a43131ff29c2371cff648e4125941f8d19cedf0fd97fd9d4d9bbc80372",
    digestKind: "unverified-kind",
  },
  /** Ray GPU workers (CUDA build of the same release as `ray`); same sighting as `ray`. */
  rayGpu: {
    repository: "docker.io/rayproject/ray",
    tag: "2.55.1-py310-gpu",
    digest: "sha256:a1240f249968c8b5e6d4c2b957f824c415fa470b2720a7898e02e90d12247053",
    digestKind: "unverified-kind",
  },
  /**
   * The image CHARTS.nvidiaDevicePlugin (0.17.1) ships, for pinning `image.tag` plus a
   * digest in values. Seen 2026-11-27 in one public project's mirror script, its policy
   * test and its plan (three files of the same project; no independent second sighting).
   */
  nvidiaDevicePlugin: {
    repository: "nvcr.io/nvidia/k8s-device-plugin",
    tag: "v0.17.1",
    digest: "sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5",
    digestKind: "unverified-kind",
  },
  /**
   * DCGM exporter. No public digest was found for the chart 4.1.1 default image
   * (4.2.3-4.1.1-ubuntu22.04), so this is the best verified tag+digest pair: a newer
   * release (DCGM 4.5.2, exporter 4.8.1). Seen 2026-11-27 in a public GPU-cluster
   * template's docs (three files of one project), named there as the linux/amd64 manifest
   * of this tag. It does not match the chart's default;
   * overriding the chart's image with it also moves the exporter version.
   */
  dcgmExporter: {
    repository: "nvcr.io/nvidia/k8s/dcgm-exporter",
    tag: "4.5.2-4.8.1-ubuntu22.04",
    digest: "sha256:a7ad6547d4546eaf4dd5d6b4c0b4db4101e63ef7dc3cdff7f42b767d2c60b706",
    digestKind: "linux/amd64",
  },
  /**
   * NVIDIA MIG manager (github.com/NVIDIA/mig-parted, cmd/nvidia-mig-manager) v0.15.0: applies
   * the mig-parted config a node's `nvidia.com/mig.config` label names. Seen 2026-11-27 in
   * NVIDIA/gpu-operator v26.7.0 bundle/manifests/gpu-operator-certified.clusterserviceversion.yaml
   * (relatedImages `mig-manager-image`), the operator release that deploys this tag; one
   * sighting, in NVIDIA's own release manifest.
   */
  migManager: {
    repository: "nvcr.io/nvidia/cloud-native/k8s-mig-manager",
    tag: "v0.15.0",
    digest: "sha256:cab2cf9deafc9602da69d0832a82958a7687f22f4a2f19674099dc9a5c4ea8e2",
    digestKind: "unverified-kind",
  },
} as const satisfies Record<string, ImagePin>;
