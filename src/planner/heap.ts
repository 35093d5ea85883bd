// A binary min-heap (O(log n) push and pop) and the planner's event queue built on it. Pure,
// deterministic for a deterministic comparator.

export class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (!a.length) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Events by time: pops in time order, and events of the same time in the order they were pushed
 * (what a heap ordered by (time, sequence) gives). The simulation's events fall on few distinct
 * times, so a heap of the times and a list per time make a push O(1) for a known time (O(log t)
 * for a new one, t distinct times pending) instead of O(log n) over every pending event.
 */
export class EventQueue<T> {
  private readonly times = new Heap<number>((a, b) => a < b);
  private readonly at = new Map<number, { items: T[]; next: number }>();

  /** The time of the next event, or undefined when none is left. */
  peekTime(): number | undefined {
    return this.times.peek();
  }

  push(t: number, x: T): void {
    const b = this.at.get(t);
    if (b) b.items.push(x);
    else {
      this.at.set(t, { items: [x], next: 0 });
      this.times.push(t);
    }
  }

  pop(): T | undefined {
    const t = this.times.peek();
    if (t === undefined) return undefined;
    const b = this.at.get(t)!;
    const x = b.items[b.next++]!;
    if (b.next === b.items.length) {
      this.at.delete(t);
      this.times.pop();
    }
    return x;
  }
}
