/**
 * The one home of every image and Helm chart the kit deploys. Images are pinned by
 * digest (a tag alone can move); charts by exact version. Bump them here only.
 */

/** A container image pinned by digest; `ref` is what goes into a pod spec. */
export interface ImagePin {
  repository: string;
  tag: string;
  digest: string;
}

export function imageRef(pin: ImagePin): string {
  return `${pin.repository}:${pin.tag}@${pin.digest}`;
}

/** A Helm chart pinned to an exact version in its upstream repository. */
export interface ChartPin {
  chart: string;
  version: string;
  repo: string;
}

export const CHARTS = {
  /** NVIDIA k8s-device-plugin (github.com/NVIDIA/k8s-device-plugin). */
  nvidiaDevicePlugin: { chart: "nvidia-device-plugin", version: "0.17.1", repo: "https://nvidia.github.io/k8s-device-plugin" },
  /** NVIDIA dcgm-exporter (github.com/NVIDIA/dcgm-exporter). */
  dcgmExporter: { chart: "dcgm-exporter", version: "4.1.1", repo: "https://nvidia.github.io/dcgm-exporter/helm-charts" },
  /** KubeRay operator, matching the CRDs in ../shared/schemas/kuberay-v1.7.0. */
  kuberayOperator: { chart: "kuberay-operator", version: "1.7.0", repo: "https://ray-project.github.io/kuberay-helm/" },
} as const satisfies Record<string, ChartPin>;
