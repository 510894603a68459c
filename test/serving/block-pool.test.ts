import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BlockPool, FreeBlockQueue, KVCacheBlock } from "../../runtime/serving/engine/block-pool";
import { KVCacheManager } from "../../runtime/serving/engine/kv-cache-manager";
import { Request } from "../../runtime/serving/engine/request";
import { RecordingSink } from "./helpers";
import { seeded } from "../property-seed";

const ids = (q: Iterable<KVCacheBlock>) => [...q].map((b) => b.id);

function request(id: string, tokens: number[]) {
  return new Request(id, tokens, { maxTokens: 100, ignoreEos: true, seed: 1 }, 0, new RecordingSink());
}

describe("FreeBlockQueue", () => {
  it("removes from the middle and appends at the tail in O(1)", () => {
    const blocks = [0, 1, 2, 3].map((i) => new KVCacheBlock(i));
    const q = new FreeBlockQueue(blocks);
    q.remove(blocks[2]!);
    expect(ids(q)).toEqual([0, 1, 3]);
    q.append(blocks[2]!);
    expect(ids(q)).toEqual([0, 1, 3, 2]);
    expect(q.popLeft().id).toBe(0);
    expect(q.length).toBe(3);
    expect(() => q.append(blocks[1]!)).toThrow(/already in the free queue/);
  });
});

describe("BlockPool", () => {
  it("evicts the least recently freed cached block first, and a touch saves a free cached block", () => {
    const pool = new BlockPool(4, true);
    const [a, b, c] = pool.getNewBlocks(3);
    pool.cacheFullBlock(a!, "ha");
    pool.cacheFullBlock(b!, "hb");
    pool.freeBlocks([b!, a!]); // reverse order: b (the tail) becomes evictable first
    pool.touch([pool.getCachedBlock("hb")!]);
    expect(b!.refCnt).toBe(1);
    // Free queue now: [3, a]; taking two evicts a's hash but not b's.
    pool.getNewBlocks(2);
    expect(pool.getCachedBlock("ha")).toBeUndefined();
    expect(pool.getCachedBlock("hb")).toBe(b);
    expect(pool.evictions).toBe(1);
    expect(c!.refCnt).toBe(1);
    pool.checkInvariants();
  });

  it("refuses to free a block twice", () => {
    const pool = new BlockPool(2, false);
    const [a] = pool.getNewBlocks(1);
    pool.freeBlocks([a!]);
    expect(() => pool.freeBlocks([a!])).toThrow(/refCnt 0/);
  });
});

describe("KVCacheManager", () => {
  it("allocates blocks on demand and returns null without side effects when out of blocks", () => {
    const kv = new KVCacheManager(4, 16, false);
    const r = request("a", Array(40).fill(1));
    expect(kv.allocateSlots(r, 40)!.length).toBe(3);
    const other = request("b", Array(40).fill(2));
    expect(kv.allocateSlots(other, 40)).toBeNull();
    expect(kv.pool.numFreeBlocks).toBe(1);
    expect(kv.numBlocksOf("b")).toBe(0);
    kv.free(r);
    expect(kv.pool.numFreeBlocks).toBe(4);
  });

  it("reuses full cached blocks of an equal prefix, leaving at least one token to compute", () => {
    const kv = new KVCacheManager(16, 16, true);
    const prompt = Array.from({ length: 40 }, (_, i) => i);
    const first = request("a", prompt);
    kv.allocateSlots(first, 40);
    kv.free(first);
    const again = request("b", prompt);
    const hit = kv.getComputedBlocks(again);
    expect(hit.numComputedTokens).toBe(32);
    // Exactly two full blocks: the hit stops one block short so the last token is computed.
    const exact = request("c", prompt.slice(0, 32));
    expect(kv.getComputedBlocks(exact).numComputedTokens).toBe(16);
    // A different first token changes every hash in the chain.
    const other = request("d", [999, ...prompt.slice(1)]);
    expect(kv.getComputedBlocks(other).numComputedTokens).toBe(0);
    expect(kv.allocateSlots(again, 8, hit.blocks)!.length).toBe(1);
    expect(kv.numBlocksOf("b")).toBe(3);
    kv.pool.checkInvariants();
  });

  it("property: random allocate/grow/free sequences never leak blocks or drive a ref count negative", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("new" as const), prefix: fc.integer({ min: 0, max: 3 }), len: fc.integer({ min: 1, max: 80 }) }),
      fc.record({ kind: fc.constant("grow" as const), which: fc.nat(), by: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant("free" as const), which: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.boolean(), (ops, caching) => {
        const kv = new KVCacheManager(24, 8, caching);
        const live: { r: Request; computed: number }[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.kind === "new") {
            // Prompts share one of four prefixes, so prefix hits happen.
            const tokens = Array.from({ length: o.len }, (_, i) => (i < 24 ? o.prefix * 100 + i : n * 1000 + i));
            const r = request(`r${n++}`, tokens);
            const hit = kv.getComputedBlocks(r);
            if (kv.allocateSlots(r, r.numTokens - hit.numComputedTokens, hit.blocks)) {
              r.numComputedTokens = r.numTokens;
              live.push({ r, computed: r.numTokens });
            }
          } else if (o.kind === "grow" && live.length > 0) {
            const { r } = live[o.which % live.length]!;
            for (let i = 0; i < o.by; i++) r.outputTokenIds.push(7);
            if (kv.allocateSlots(r, o.by)) r.numComputedTokens = r.numTokens;
            else r.outputTokenIds.splice(-o.by);
          } else if (o.kind === "free" && live.length > 0) {
            const [{ r }] = live.splice(o.which % live.length, 1);
            kv.free(r!);
          }
          kv.pool.checkInvariants();
          for (const { r } of live) expect(kv.numBlocksOf(r.id)).toBe(Math.ceil(r.numComputedTokens / 8));
        }
        for (const { r } of live) kv.free(r);
        kv.pool.checkInvariants();
        return kv.pool.numUsedBlocks === 0 && kv.pool.blocks.every((b) => b.refCnt === 0);
      }),
      seeded({ numRuns: 300 }),
    );
  });
});
