// A sorted list kept in chunks of at most 2·B items: insert, delete and shift cost O(log n + B),
// plus O(n / B) when a chunk splits or empties; iteration is in order. The planner's large ordered
// sets (hosts by load, a pool's hosts by free vCPUs and order, a group's waiting moves) and the
// session's open hosts (open-hosts.ts) change one item at a time, and one flat array would move
// O(n) items per change. Pure.

const B = 64;

/** First index in the sorted `xs` whose item is not before `x`. */
function lowerIndex<T>(xs: T[], x: T, cmp: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(xs[mid]!, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedList<T> implements Iterable<T> {
  /** Non-empty chunks, each sorted, each one's items before the next one's. */
  private readonly chunks: T[][] = [];
  private count = 0;

  /** `cmp` must be a total order over the items held (no two items compare equal). */
  constructor(private readonly cmp: (a: T, b: T) => number) {}

  get size(): number {
    return this.count;
  }

  /** The chunk `x` belongs in: the last one whose first item is not after `x` (or the first). */
  private chunkOf(x: T): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cmp(this.chunks[mid]![0]!, x) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo - 1);
  }

  insert(x: T): void {
    this.count++;
    if (!this.chunks.length) {
      this.chunks.push([x]);
      return;
    }
    const ci = this.chunkOf(x);
    const c = this.chunks[ci]!;
    c.splice(lowerIndex(c, x, this.cmp), 0, x);
    if (c.length > 2 * B) this.chunks.splice(ci + 1, 0, c.splice(B));
  }

  /** Remove the item that compares equal to `x`; false when there is none. */
  delete(x: T): boolean {
    if (!this.chunks.length) return false;
    const ci = this.chunkOf(x);
    const c = this.chunks[ci]!;
    const i = lowerIndex(c, x, this.cmp);
    if (i >= c.length || this.cmp(c[i]!, x) !== 0) return false;
    c.splice(i, 1);
    this.count--;
    if (!c.length) this.chunks.splice(ci, 1);
    return true;
  }

  first(): T | undefined {
    return this.chunks[0]?.[0];
  }

  /** Remove and return the first item. */
  shift(): T | undefined {
    const c = this.chunks[0];
    if (!c) return undefined;
    const x = c.shift();
    this.count--;
    if (!c.length) this.chunks.shift();
    return x;
  }

  /** The first item, in order, that `pred` accepts. O(items passed). */
  find(pred: (x: T) => boolean): T | undefined {
    for (const c of this.chunks) for (const x of c) if (pred(x)) return x;
    return undefined;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (const c of this.chunks) yield* c;
  }
}
