// An ordered set (a treap: a binary search tree kept balanced by random priorities), so the
// simulator's scheduler finds the best-fitting host in O(log hosts) and updates it in O(log hosts)
// when a host's usage changes. Priorities come from a fixed-seed generator: the tree's shape, and
// so the cost, is the same on every run (the order itself never depends on it).

interface Node<K> {
  key: K;
  prio: number;
  left: Node<K> | null;
  right: Node<K> | null;
}

export class SortedSet<K> {
  private root: Node<K> | null = null;
  private count = 0;
  private seed = 0x9e3779b9;

  /** `cmp` orders the keys; keys comparing equal are the same element. */
  constructor(private readonly cmp: (a: K, b: K) => number) {}

  get size(): number {
    return this.count;
  }

  /** Adds `key` (no-op when an equal key is there). */
  add(key: K): void {
    const [lo, rest] = this.split(this.root, key, true);
    const [same, hi] = this.split(rest, key, false);
    if (!same) this.count += 1;
    this.root = this.merge(this.merge(lo, same ?? { key, prio: this.nextPrio(), left: null, right: null }), hi);
  }

  /** Removes the key equal to `key`; false when there was none. */
  delete(key: K): boolean {
    const [lo, rest] = this.split(this.root, key, true);
    const [same, hi] = this.split(rest, key, false);
    this.root = this.merge(lo, hi);
    if (same) this.count -= 1;
    return same !== null;
  }

  /** The keys >= `from` (all keys without it), ascending. O(log n) to the first, O(1) amortized after. */
  *ascending(from?: K): Generator<K> {
    const stack: Node<K>[] = [];
    let n = this.root;
    while (n) {
      if (from === undefined || this.cmp(n.key, from) >= 0) {
        stack.push(n);
        n = n.left;
      } else n = n.right;
    }
    while (stack.length) {
      const top = stack.pop()!;
      yield top.key;
      for (let c = top.right; c; c = c.left) stack.push(c);
    }
  }

  /**
   * Splits `t` into the keys before `key` and the rest: with `strict`, [< key, >= key]; without,
   * [<= key, > key].
   */
  private split(t: Node<K> | null, key: K, strict: boolean): [Node<K> | null, Node<K> | null] {
    if (!t) return [null, null];
    const c = this.cmp(t.key, key);
    if (strict ? c < 0 : c <= 0) {
      const [a, b] = this.split(t.right, key, strict);
      t.right = a;
      return [t, b];
    }
    const [a, b] = this.split(t.left, key, strict);
    t.left = b;
    return [a, t];
  }

  /** Joins two trees where every key of `a` is before every key of `b`. */
  private merge(a: Node<K> | null, b: Node<K> | null): Node<K> | null {
    if (!a) return b;
    if (!b) return a;
    if (a.prio > b.prio) {
      a.right = this.merge(a.right, b);
      return a;
    }
    b.left = this.merge(a, b.left);
    return b;
  }

  /** xorshift32. */
  private nextPrio(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}
