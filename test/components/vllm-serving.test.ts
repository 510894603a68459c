import { describe, expect, it } from "vitest";
import { engineArgs, servingAutoscalerSpec } from "../../components/vllm-serving";
import { servingEntrySchema } from "../../stacks/config-serving";
import { ConfigError, parseStackConfig } from "../../stacks/load-config";

const entry = servingEntrySchema.parse({ name: "chat", tenant: "t", pool: "p", model: "qwen2.5-0.5b" });

describe("VllmServing", () => {
  it("passes vLLM's engine args, with every default stated", () => {
    expect(engineArgs(entry, "kind")).toEqual([
      "--port", "8000", "--served-model-name", "qwen2.5-0.5b", "--tensor-parallel-size", "1",
      "--gpu-memory-utilization", "0.9", "--max-num-seqs", "256", "--block-size", "16", "--kv-cache-dtype", "auto",
      "--enable-prefix-caching", "--max-waiting", "512",
    ]);
  });

  it("bounds vLLM's queue with --max-num-queued-reqs (waiting + running) on eks", () => {
    const args = engineArgs({ ...entry, maxNumSeqs: 64, maxWaiting: 100, maxModelLen: 8192, enablePrefixCaching: false }, "eks");
    expect(args.slice(-5)).toEqual(["--no-enable-prefix-caching", "--max-model-len", "8192", "--max-num-queued-reqs", "164"]);
    expect(args).not.toContain("--max-waiting");
  });

  it("autoscales on waiting requests per replica within the configured bounds", () => {
    const spec = servingAutoscalerSpec({ ...entry, minReplicas: 2, maxReplicas: 6, targetWaitingPerReplica: 4 });
    expect(spec).toMatchObject({ minReplicas: 2, maxReplicas: 6, scaleTargetRef: { kind: "Deployment", name: "chat" } });
    expect(spec.metrics[0]!.pods.metric.name).toBe("vllm:num_requests_waiting");
    expect(spec.metrics[0]!.pods.target.averageValue).toBe("4");
  });

  it("checks serving entries against tenants, pools and the simulated models", () => {
    const base = {
      target: "kind",
      nodePools: [{ name: "p", product: "h100", gpusPerNode: 2, desiredNodes: 1, maxNodes: 1 }, { name: "q", product: "l4", gpusPerNode: 1, desiredNodes: 1, maxNodes: 1 }],
      tenants: [{ name: "t", gpuQuota: 1, allowedPools: ["p"] }],
    };
    const problems = (serving: unknown[]) => {
      try {
        parseStackConfig({ ...base, serving });
        return [];
      } catch (err) {
        return (err as ConfigError).lines;
      }
    };
    expect(problems([{ name: "a", tenant: "t", pool: "p", model: "qwen2.5-0.5b" }])).toEqual([]);
    expect(problems([{ name: "a", tenant: "x", pool: "p", model: "qwen2.5-0.5b" }])).toEqual(['gpk:serving[0].tenant: expected one of the tenants t, got "x"']);
    expect(problems([{ name: "a", tenant: "t", pool: "q", model: "qwen2.5-0.5b" }])).toEqual(['gpk:serving[0].pool: expected a pool tenant "t" may use (p), got "q"']);
    expect(problems([{ name: "a", tenant: "t", pool: "p", model: "qwen2.5-0.5b", tensorParallelSize: 4 }])).toEqual(["gpk:serving[0].tensorParallelSize: expected at most 2 (the GPUs of one p node), got 4"]);
    expect(problems([{ name: "a", tenant: "t", pool: "p", model: "gpt-9" }])).toEqual([
      'gpk:serving[0].model: expected a model the simulated runtime knows (llama-3-8b, llama-3-70b, mistral-7b, qwen2.5-0.5b or their repo ids), got "gpt-9"',
    ]);
    expect(problems([{ name: "a", tenant: "t", pool: "p", model: "qwen2.5-0.5b", gpuMemoryUtilization: 1.5 }])).toEqual(["gpk:serving[0].gpuMemoryUtilization: expected a fraction, got 1.5"]);
  });
});
