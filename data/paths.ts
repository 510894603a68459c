/**
 * The one home of the repository's data paths (data/README.md says where each file comes from).
 * Imports nothing from the kit, so tests, benches, scripts and the CLI can all use it.
 */
import * as path from "node:path";

export const DATA_DIR = __dirname;
/** Alibaba cluster-trace-gpu-v2023 node and task lists. */
export const OPENB_DIR = path.join(DATA_DIR, "openb");
/** Captures from a real H100 (nvidia-smi, NVML thermal trace). */
export const H100_DIR = path.join(DATA_DIR, "h100");
/** Published vLLM serving-benchmark runs (per-request token counts and the reported metrics). */
export const VLLM_BENCHMARK_DIR = path.join(DATA_DIR, "vllm-benchmark");
/** Published vLLM V1-engine serving runs (summary metrics and the runs' settings). */
export const VLLM_V1_BENCHMARK_DIR = path.join(DATA_DIR, "vllm-v1-benchmark");
/** CRD schemas the preview validates custom resources with, one folder per upstream release. */
export const CRD_SCHEMA_ROOT = path.join(DATA_DIR, "schemas");
export const KUBERAY_CRD_DIR = path.join(CRD_SCHEMA_ROOT, "kuberay-v1.7.0");
/** The Prometheus Operator's PrometheusRule CRD: the local runtimes install it, as a cluster with the operator has it. */
export const PROMETHEUS_OPERATOR_CRD_DIR = path.join(CRD_SCHEMA_ROOT, "prometheus-operator-v0.82.2");
