import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createPolicy,
  makeNode,
  mulberry32,
  place,
  POLICY_NAMES,
  targetWorkload,
  unfitReason,
  MILLI,
  type NodeState,
  type PodRequest,
} from "../../runtime/scheduling";
import { simulate } from "../../runtime/cluster-sim/simulate";
import { seeded } from "../property-seed";

const models = ["T4", "G2", "P100"];
const nodeArb = fc.record({
  cpu: fc.integer({ min: 1, max: 64 }),
  mem: fc.integer({ min: 1, max: 64 }),
  gpus: fc.integer({ min: 0, max: 8 }),
  model: fc.constantFrom(...models),
  numa: fc.boolean(),
  hot: fc.boolean(),
});
const podArb = fc.oneof(
  fc.record({ cpu: fc.integer({ min: 1, max: 16 }), mem: fc.integer({ min: 1, max: 16 }), numGpu: fc.constant(1), milli: fc.integer({ min: 1, max: 999 }), spec: fc.subarray(models) }),
  fc.record({ cpu: fc.integer({ min: 1, max: 16 }), mem: fc.integer({ min: 1, max: 16 }), numGpu: fc.integer({ min: 0, max: 8 }), milli: fc.constant(1000), spec: fc.subarray(models) }),
);

type Spec<A> = A extends fc.Arbitrary<infer T> ? T : never;

function buildNodes(specs: Spec<typeof nodeArb>[]): NodeState[] {
  return specs.map((s, i) => {
    const node = makeNode({
      name: `n${i}`,
      cpuMilli: s.cpu * 1000,
      memoryMiB: s.mem * 1024,
      gpuCount: s.gpus,
      gpuModel: s.model,
      rank: i,
      numaNodes: s.numa ? Array.from({ length: s.gpus }, (_, g) => (g < s.gpus / 2 ? 0 : 1)) : undefined,
    });
    if (s.hot && node.gpus[0]) node.gpus[0].telemetry = { temperatureC: 95 };
    return node;
  });
}

function buildPods(specs: Spec<typeof podArb>[]): PodRequest[] {
  return specs.map((s, i) => ({
    name: `p${i}`,
    cpuMilli: s.cpu * 1000,
    memoryMiB: s.mem * 1024,
    numGpu: s.numGpu,
    gpuMilli: s.numGpu === 0 ? 0 : s.milli,
    gpuModels: s.numGpu === 0 ? [] : s.spec,
  }));
}

describe("placement invariants (every policy)", () => {
  it("never over-allocates GPU milli, CPU or memory, respects feasibility and GPU models", () => {
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 6 }), fc.array(podArb, { minLength: 1, maxLength: 40 }), fc.constantFrom(...POLICY_NAMES), (nodeSpecs, podSpecs, name) => {
        const nodes = buildNodes(nodeSpecs);
        const pods = buildPods(podSpecs);
        const policy = createPolicy(name, { workload: targetWorkload(pods), rng: mulberry32(3) });
        for (const pod of pods) {
          const feasible = nodes.filter((n) => unfitReason(n, pod) === null).map((n) => n.name);
          const placed = place(nodes, pod, policy);
          if (!placed) {
            expect(feasible).toEqual([]);
            continue;
          }
          expect(feasible).toContain(placed.node.name);
          expect(placed.gpus).toHaveLength(pod.numGpu);
          for (const i of placed.gpus) {
            if (pod.gpuModels.length > 0) expect(pod.gpuModels).toContain(placed.node.gpus[i]!.model);
          }
        }
        for (const n of nodes) {
          expect(n.cpuUsedMilli).toBeLessThanOrEqual(n.cpuMilli);
          expect(n.memoryUsedMiB).toBeLessThanOrEqual(n.memoryMiB);
          for (const g of n.gpus) expect(g.usedMilli >= 0 && g.usedMilli <= MILLI).toBe(true);
        }
      }),
      seeded({ numRuns: 150 }),
    );
  });

  it("a simulation is a function of its seed", () => {
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 5 }), fc.array(podArb, { minLength: 1, maxLength: 25 }), fc.constantFrom(...POLICY_NAMES), fc.integer({ min: 0, max: 1000 }), (nodeSpecs, podSpecs, name, seed) => {
        const nodes = buildNodes(nodeSpecs.map((s) => ({ ...s, gpus: Math.max(1, s.gpus) })));
        const pods = buildPods(podSpecs);
        const run = () => simulate({ nodes, pods, policy: name, seed, arrival: 1.2, now: () => 0 });
        expect(run()).toEqual(run());
      }),
      seeded({ numRuns: 60 }),
    );
  });
});
