import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AllocationRequestError,
  preferredAllocation,
  type Candidate,
} from "../../runtime/device-plugin/preferred-allocation";
import { advertisedDevices, uniqueUuids, uuidOf } from "../../runtime/device-plugin/replicas";
import { deviceIdentities } from "../../runtime/gpu-sim";
import { seeded } from "../property-seed";

/** GPU i on NUMA node numa[i]; device IDs `g<i>` or `g<i>::<r>`. */
function candidates(numa: number[], replicas = 1): Candidate[] {
  const out: Candidate[] = [];
  numa.forEach((numaNode, gpuIndex) => {
    for (let r = 0; r < replicas; r++) {
      out.push({ id: replicas > 1 ? `g${gpuIndex}::${r}` : `g${gpuIndex}`, uuid: `g${gpuIndex}`, gpuIndex, numaNode });
    }
  });
  return out;
}
const pick = (all: Candidate[], ids: string[]) => ids.map((id) => all.find((c) => c.id === id)!);
const EIGHT = candidates([0, 0, 0, 0, 1, 1, 1, 1]);

describe("preferredAllocation examples", () => {
  it("keeps a pair on one NUMA node when free GPUs are scattered over both", () => {
    // Free 1, 3 on node 0 and 4, 6 on node 1 (available listed node-interleaved).
    const got = preferredAllocation({ available: pick(EIGHT, ["g4", "g1", "g6", "g3"]), mustInclude: [], size: 2 });
    expect(got).toEqual(["g1", "g3"]);
  });

  it("picks the best-fitting node so a larger free group stays whole", () => {
    // Node 0 has 4 free, node 1 has 2: a pair goes to node 1.
    const got = preferredAllocation({ available: pick(EIGHT, ["g0", "g1", "g2", "g3", "g5", "g7"]), mustInclude: [], size: 2 });
    expect(got).toEqual(["g5", "g7"]);
  });

  it("spans two nodes only when no single node has enough, filling the larger first", () => {
    const got = preferredAllocation({ available: pick(EIGHT, ["g0", "g1", "g2", "g5", "g6"]), mustInclude: [], size: 4 });
    expect(got).toEqual(["g0", "g1", "g2", "g5"]);
  });

  it("fills the node of a must-include device before opening another", () => {
    const got = preferredAllocation({
      available: pick(EIGHT, ["g0", "g1", "g4", "g5", "g6", "g7"]),
      mustInclude: pick(EIGHT, ["g5"]),
      size: 3,
    });
    expect(got).toEqual(["g5", "g4", "g6"]);
  });

  it("puts hinted GPUs first, then fills by NUMA around them", () => {
    const got = preferredAllocation({ available: EIGHT, mustInclude: [], size: 3, preferUuids: ["g7", "gX", "g6"] });
    expect(got).toEqual(["g7", "g6", "g4"]);
  });

  it("returns the must-include set alone when it fills the size", () => {
    expect(preferredAllocation({ available: EIGHT, mustInclude: pick(EIGHT, ["g2", "g6"]), size: 2 })).toEqual(["g2", "g6"]);
  });

  it("rejects impossible requests with the field named", () => {
    expect(() => preferredAllocation({ available: EIGHT.slice(0, 2), mustInclude: [], size: 3 })).toThrow(
      new AllocationRequestError("allocation_size 3 exceeds the 2 available devices"),
    );
    expect(() => preferredAllocation({ available: EIGHT, mustInclude: EIGHT.slice(0, 2), size: 1 })).toThrow(
      "must_include_deviceIDs has 2 devices, more than allocation_size 1",
    );
    expect(() => preferredAllocation({ available: EIGHT, mustInclude: [], size: -1 })).toThrow(
      "allocation_size must be a non-negative integer, got -1",
    );
  });

  it("spreads time-slice replicas over distinct GPUs, least-loaded GPU first", () => {
    const all = candidates([0, 0, 1, 1], 3);
    // GPU 0 has 1 free replica, GPU 1 has 3; node 0 is the only node with 4 free.
    const available = pick(all, ["g0::2", "g1::0", "g1::1", "g1::2", "g2::0", "g3::0"]);
    expect(preferredAllocation({ available, mustInclude: [], size: 3 })).toEqual(["g1::0", "g0::2", "g1::1"]);
  });

  it("spreads replicas over GPUs of every chosen node before doubling up on one GPU", () => {
    // Node 0: two replicas of GPU 0; node 1: GPUs 1 and 2. Three devices need both nodes; the
    // answer uses three GPUs rather than both replicas of GPU 0.
    const all = [...candidates([0, 1, 1], 2)];
    const available = pick(all, ["g0::0", "g0::1", "g1::0", "g2::0"]);
    expect(preferredAllocation({ available, mustInclude: [], size: 3 })).toEqual(["g0::0", "g1::0", "g2::0"]);
  });
});

describe("preferredAllocation properties", () => {
  // A node: 1-16 GPUs on 1-4 NUMA nodes, 1-3 replicas; a random available subset, must-include
  // subset of it, and a size between |must| and |available|.
  const scenario = fc
    .record({
      numa: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 16 }),
      replicas: fc.integer({ min: 1, max: 3 }),
      seed: fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }),
      mustSeed: fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }),
      sizeFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ numa, replicas, seed, mustSeed, sizeFrac }) => {
      const all = candidates(numa, replicas);
      const available = all.filter((_, i) => seed[i]);
      const mustInclude = available.filter((_, i) => mustSeed[i] && i % 4 === 0);
      const size = mustInclude.length + Math.floor(sizeFrac * (available.length - mustInclude.length));
      return { available, mustInclude, size };
    });

  it("answers exactly `size` distinct available devices including every must-include", () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const got = preferredAllocation(input);
        expect(got).toHaveLength(input.size);
        expect(new Set(got).size).toBe(got.length);
        const available = new Set(input.available.map((c) => c.id));
        expect(got.every((id) => available.has(id))).toBe(true);
        expect(got.slice(0, input.mustInclude.length)).toEqual(input.mustInclude.map((c) => c.id));
      }),
      seeded(),
    );
  });

  it("spans the fewest NUMA nodes possible (brute force over node sets)", () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const got = preferredAllocation(input);
        const numaOf = new Map(input.available.map((c) => [c.id, c.numaNode]));
        const spanned = new Set(got.map((id) => numaOf.get(id)));
        expect(spanned.size).toBe(minimalSpan(input.available, input.mustInclude, input.size));
      }),
      seeded(),
    );
  });

  it("does not depend on the order kubelet lists the available devices in", () => {
    fc.assert(
      fc.property(scenario, fc.integer(), (input, shuffleSeed) => {
        const shuffled = seededShuffle(input.available, shuffleSeed);
        expect(preferredAllocation({ ...input, available: shuffled })).toEqual(preferredAllocation(input));
      }),
      seeded(),
    );
  });

  it("never puts two replicas of one GPU in an answer while a chosen NUMA node has an unused GPU", () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const got = preferredAllocation({ ...input, mustInclude: [] });
        const byId = new Map(input.available.map((c) => [c.id, c]));
        const chosen = got.map((id) => byId.get(id)!);
        const usedGpus = new Set(chosen.map((c) => c.uuid));
        const usedNodes = new Set(chosen.map((c) => c.numaNode));
        const unusedGpuOnUsedNode = input.available.some((c) => usedNodes.has(c.numaNode) && !usedGpus.has(c.uuid));
        if (unusedGpuOnUsedNode) expect(usedGpus.size).toBe(chosen.length);
      }),
      seeded(),
    );
  });
});

describe("replica device IDs", () => {
  const gpus = deviceIdentities("n1", 2, 1).map((id) => ({ ...id, healthy: true }));

  it("are plain UUIDs without sharing and <uuid>::<i> with it, mapping back to the UUID", () => {
    expect(advertisedDevices(gpus, 1).map((d) => d.id)).toEqual([gpus[0].uuid, gpus[1].uuid]);
    const shared = advertisedDevices(gpus, 3).map((d) => d.id);
    expect(shared).toEqual([0, 1, 2].map((i) => `${gpus[0].uuid}::${i}`).concat([0, 1, 2].map((i) => `${gpus[1].uuid}::${i}`)));
    expect(uuidOf(shared[4])).toBe(gpus[1].uuid);
    expect(uniqueUuids([shared[5], shared[0], shared[3], shared[1]])).toEqual([gpus[1].uuid, gpus[0].uuid]);
  });

  it("rejects a replica count that is not a positive integer", () => {
    expect(() => advertisedDevices(gpus, 0)).toThrow("replicas must be an integer >= 1, got 0");
  });
});

/** Fewest NUMA nodes any valid answer can span: smallest node set ⊇ must's nodes holding `size`. */
function minimalSpan(available: Candidate[], must: Candidate[], size: number): number {
  const nodes = [...new Set(available.map((c) => c.numaNode))];
  const mustNodes = new Set(must.map((c) => c.numaNode));
  if (size === 0) return 0;
  let best = Infinity;
  for (let mask = 1; mask < 1 << nodes.length; mask++) {
    const set = nodes.filter((_, i) => mask & (1 << i));
    if (![...mustNodes].every((n) => set.includes(n))) continue;
    if (available.filter((c) => set.includes(c.numaNode)).length >= size) best = Math.min(best, set.length);
  }
  return best;
}

function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
