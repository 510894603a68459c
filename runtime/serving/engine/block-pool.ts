/**
 * The block pool owns every KV cache block: reference counts, the free queue and the
 * prefix-cache map from block hash to block (after vLLM v1's `block_pool.py`, rewritten).
 *
 * Invariants (checked by `checkInvariants`, exercised by the property tests):
 * - `refCnt >= 0` always; a block is in the free queue iff `refCnt === 0`.
 * - A free block may still hold a cached hash: it is reusable by a prefix hit (touch)
 *   until allocation pops it from the queue head, which evicts its hash (LRU order).
 * - `cached.get(h).hash === h`; a block holds at most one hash.
 */

export class KVCacheBlock {
  refCnt = 0;
  /** Hash of the full block's content chained with its parent's hash; null while not full or not cached. */
  hash: string | null = null;
  /** Free-queue links; null when the block is not in the queue. Sentinels have id -1. */
  prev: KVCacheBlock | null = null;
  next: KVCacheBlock | null = null;
  constructor(readonly id: number) {}
}

/**
 * Doubly linked list of free blocks with head and tail sentinels, so `remove` from the
 * middle (a prefix hit on a free cached block) is O(1) with no edge cases.
 * Allocation pops from the front (least recently freed); freeing appends at the back.
 */
export class FreeBlockQueue {
  private readonly head = new KVCacheBlock(-1);
  private readonly tail = new KVCacheBlock(-1);
  private count = 0;

  constructor(blocks: readonly KVCacheBlock[]) {
    this.head.next = this.tail;
    this.tail.prev = this.head;
    for (const b of blocks) this.append(b);
  }

  get length(): number {
    return this.count;
  }

  popLeft(): KVCacheBlock {
    const first = this.head.next!;
    if (first === this.tail) throw new Error("free block queue is empty");
    this.remove(first);
    return first;
  }

  remove(block: KVCacheBlock): void {
    if (!block.prev || !block.next) throw new Error(`block ${block.id} is not in the free queue`);
    block.prev.next = block.next;
    block.next.prev = block.prev;
    block.prev = block.next = null;
    this.count--;
  }

  append(block: KVCacheBlock): void {
    if (block.prev || block.next) throw new Error(`block ${block.id} is already in the free queue`);
    const last = this.tail.prev!;
    last.next = block;
    block.prev = last;
    block.next = this.tail;
    this.tail.prev = block;
    this.count++;
  }

  /** Front-to-back ids, for tests and invariant checks. */
  *[Symbol.iterator](): IterableIterator<KVCacheBlock> {
    for (let b = this.head.next!; b !== this.tail; b = b.next!) yield b;
  }
}

export class BlockPool {
  readonly blocks: readonly KVCacheBlock[];
  private readonly freeQueue: FreeBlockQueue;
  private readonly cached = new Map<string, KVCacheBlock>();
  /** Number of cached blocks evicted to make room; exported as a figure, not used for decisions. */
  evictions = 0;

  constructor(readonly numBlocks: number, readonly enableCaching: boolean) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new Error(`numBlocks must be a positive integer, got ${numBlocks}`);
    this.blocks = Array.from({ length: numBlocks }, (_, i) => new KVCacheBlock(i));
    this.freeQueue = new FreeBlockQueue(this.blocks);
  }

  get numFreeBlocks(): number {
    return this.freeQueue.length;
  }

  /** Blocks referenced by at least one request. */
  get numUsedBlocks(): number {
    return this.numBlocks - this.freeQueue.length;
  }

  /** vLLM's `kv_cache_usage_perc`: a fraction in [0, 1] of blocks not free. */
  usage(): number {
    return 1 - this.freeQueue.length / this.numBlocks;
  }

  getCachedBlock(hash: string): KVCacheBlock | undefined {
    return this.cached.get(hash);
  }

  /** Takes `n` blocks from the free-queue head (LRU first), evicting any cached hash they still hold. */
  getNewBlocks(n: number): KVCacheBlock[] {
    if (n > this.freeQueue.length) throw new Error(`cannot get ${n} blocks, only ${this.freeQueue.length} free`);
    const out: KVCacheBlock[] = [];
    for (let i = 0; i < n; i++) {
      const block = this.freeQueue.popLeft();
      this.evict(block);
      block.refCnt = 1;
      out.push(block);
    }
    return out;
  }

  /** A prefix hit: takes a reference on each block, pulling free ones out of the queue so they cannot be evicted. */
  touch(blocks: readonly KVCacheBlock[]): void {
    for (const block of blocks) {
      if (block.refCnt === 0) this.freeQueue.remove(block);
      block.refCnt++;
    }
  }

  /**
   * Drops one reference from each block, in the order given; blocks reaching zero join the
   * queue tail. Callers pass a request's blocks in reverse, so its tail blocks (least likely
   * to be shared) are evicted before its head blocks.
   */
  freeBlocks(ordered: readonly KVCacheBlock[]): void {
    for (const block of ordered) {
      if (block.refCnt <= 0) throw new Error(`block ${block.id} freed with refCnt ${block.refCnt}`);
      block.refCnt--;
      if (block.refCnt === 0) this.freeQueue.append(block);
    }
  }

  /** Records a full block under its chain hash. A hash already held by another block keeps that block. */
  cacheFullBlock(block: KVCacheBlock, hash: string): void {
    if (!this.enableCaching || block.hash !== null) return;
    if (this.cached.has(hash)) return;
    block.hash = hash;
    this.cached.set(hash, block);
  }

  get numCachedBlocks(): number {
    return this.cached.size;
  }

  private evict(block: KVCacheBlock): void {
    if (block.hash === null) return;
    if (this.cached.get(block.hash) === block) this.cached.delete(block.hash);
    block.hash = null;
    this.evictions++;
  }

  /** Throws on the first broken invariant (see the header comment). Tests call it after every operation. */
  checkInvariants(): void {
    const inQueue = new Set<number>();
    for (const b of this.freeQueue) {
      if (inQueue.has(b.id)) throw new Error(`block ${b.id} twice in the free queue`);
      inQueue.add(b.id);
    }
    for (const b of this.blocks) {
      if (b.refCnt < 0) throw new Error(`block ${b.id} has refCnt ${b.refCnt}`);
      if ((b.refCnt === 0) !== inQueue.has(b.id)) throw new Error(`block ${b.id} refCnt ${b.refCnt} but inQueue=${inQueue.has(b.id)}`);
      if (b.hash !== null && this.cached.get(b.hash) !== b) throw new Error(`block ${b.id} holds hash not mapped to it`);
    }
    for (const [h, b] of this.cached) if (b.hash !== h) throw new Error(`cache entry ${h} points at block ${b.id} with hash ${b.hash}`);
  }
}
