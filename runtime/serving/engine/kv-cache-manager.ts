/**
 * Answers "allocate slots for this request" on top of the block pool (after vLLM v1's
 * `kv_cache_manager.py`, rewritten). Blocks are taken on demand as a request grows; when the
 * pool cannot cover a request it returns null and the scheduler decides whom to preempt.
 *
 * Prefix caching: every FULL block gets a hash chained on its parent's hash and its token ids,
 * so equal hashes mean equal prefixes. A new request reuses the longest run of cached blocks
 * from its start, always leaving at least one token to compute (the model must run once to
 * produce the next token).
 */
import { createHash } from "node:crypto";
import { BlockPool, type KVCacheBlock } from "./block-pool";
import type { Request } from "./request";

/** Opaque handle on a request's blocks, so the scheduler never touches pool internals. */
export class KVCacheBlocks {
  /** @internal */
  constructor(readonly blocks: readonly KVCacheBlock[]) {}
  get length(): number {
    return this.blocks.length;
  }
  static readonly empty = new KVCacheBlocks([]);
}

export interface ComputedBlocks {
  blocks: KVCacheBlocks;
  numComputedTokens: number;
}

export class KVCacheManager {
  readonly pool: BlockPool;
  private readonly reqBlocks = new Map<string, KVCacheBlock[]>();
  private readonly reqHashes = new Map<string, string[]>();
  /** Prefix-cache figures (vLLM exports them as vllm:prefix_cache_queries/hits). */
  prefixQueries = 0;
  prefixHits = 0;

  constructor(
    numBlocks: number,
    readonly blockSize: number,
    readonly enablePrefixCaching: boolean,
  ) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`blockSize must be a positive integer, got ${blockSize}`);
    this.pool = new BlockPool(numBlocks, enablePrefixCaching);
  }

  get numBlocks(): number {
    return this.pool.numBlocks;
  }

  usage(): number {
    return this.pool.usage();
  }

  /** Blocks held by `request` (0 when it holds none). */
  numBlocksOf(requestId: string): number {
    return this.reqBlocks.get(requestId)?.length ?? 0;
  }

  /** Longest cached prefix of a request that holds no blocks yet (new, or preempted by recompute). */
  getComputedBlocks(request: Request): ComputedBlocks {
    if (!this.enablePrefixCaching) return { blocks: KVCacheBlocks.empty, numComputedTokens: 0 };
    const hashes = this.blockHashes(request);
    // Leave at least one token uncomputed: a full hit still needs one forward pass.
    const maxHitBlocks = Math.floor((request.numTokens - 1) / this.blockSize);
    const hits: KVCacheBlock[] = [];
    for (let i = 0; i < Math.min(hashes.length, maxHitBlocks); i++) {
      const block = this.pool.getCachedBlock(hashes[i]!);
      if (!block) break;
      hits.push(block);
    }
    return { blocks: new KVCacheBlocks(hits), numComputedTokens: hits.length * this.blockSize };
  }

  /**
   * Makes room for `numNewTokens` more tokens after the request's computed tokens (plus the
   * prefix-hit blocks `newComputed`, whose tokens the caller has not counted yet). Returns the
   * newly allocated blocks, or null, changing nothing, when the free blocks do not suffice.
   */
  allocateSlots(request: Request, numNewTokens: number, newComputed: KVCacheBlocks = KVCacheBlocks.empty): KVCacheBlocks | null {
    if (numNewTokens <= 0 && newComputed.length === 0) throw new Error("allocateSlots needs new tokens");
    const held = this.reqBlocks.get(request.id) ?? [];
    const numComputed = request.numComputedTokens + newComputed.length * this.blockSize;
    const totalTokens = numComputed + numNewTokens;
    const required = Math.ceil(totalTokens / this.blockSize);
    const numNew = required - held.length - newComputed.length;
    // Prefix-hit blocks sitting in the free queue stop being allocatable once touched.
    const freeHits = newComputed.blocks.reduce((n, b) => n + (b.refCnt === 0 ? 1 : 0), 0);
    if (numNew > this.pool.numFreeBlocks - freeHits) return null;

    this.pool.touch(newComputed.blocks);
    const fresh = numNew > 0 ? this.pool.getNewBlocks(numNew) : [];
    const blocks = held.concat(newComputed.blocks, fresh);
    this.reqBlocks.set(request.id, blocks);

    // Cache the blocks that will be full once this step's tokens are computed: their
    // token ids are all known already (numComputed + numNewTokens <= numTokens).
    if (this.enablePrefixCaching) {
      const numFull = Math.floor(Math.min(totalTokens, request.numTokens) / this.blockSize);
      const hashes = this.blockHashes(request);
      for (let i = 0; i < numFull; i++) this.pool.cacheFullBlock(blocks[i]!, hashes[i]!);
    }
    return new KVCacheBlocks(fresh);
  }

  /** Counts one admitted lookup (called by the scheduler once the request is admitted, not on every retry). */
  recordPrefixLookup(numTokens: number, numHitTokens: number): void {
    this.prefixQueries += numTokens;
    this.prefixHits += numHitTokens;
  }

  /** Releases a request's blocks, tail first (so tail blocks are evicted first). */
  free(request: Request): void {
    const blocks = this.reqBlocks.get(request.id);
    if (blocks) this.pool.freeBlocks(blocks.slice().reverse());
    this.reqBlocks.delete(request.id);
    this.reqHashes.delete(request.id);
  }

  /** Hash chain over the request's full blocks, extended as tokens arrive. */
  private blockHashes(request: Request): string[] {
    let hashes = this.reqHashes.get(request.id);
    if (!hashes) this.reqHashes.set(request.id, (hashes = []));
    const numFull = Math.floor(request.numTokens / this.blockSize);
    const ids = new Int32Array(this.blockSize);
    for (let i = hashes.length; i < numFull; i++) {
      for (let j = 0; j < this.blockSize; j++) ids[j] = request.tokenAt(i * this.blockSize + j);
      const h = createHash("sha256");
      h.update(i === 0 ? "root" : hashes[i - 1]!);
      h.update(new Uint8Array(ids.buffer));
      hashes.push(h.digest("base64"));
    }
    return hashes;
  }
}
