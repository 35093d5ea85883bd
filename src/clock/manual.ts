// A clock that only moves when told: tests and virtual-time benchmarks jump hours in one call.
import type { Clock } from '../ports/clock.js';

interface Sleeper {
  until: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private sleepers: Sleeper[] = [];
  constructor(private t = Date.UTC(2026, 0, 1, 9, 0, 0)) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const s: Sleeper = { until: this.t + ms, resolve: () => resolve() };
      this.sleepers.push(s);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((x) => x !== s);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Move time forward and wake every sleeper whose time has come. */
  advance(ms: number): void {
    this.set(this.t + ms);
  }

  set(t: number): void {
    this.t = Math.max(this.t, t);
    const due = this.sleepers.filter((s) => s.until <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.resolve();
  }

  /** Earliest pending sleeper, for virtual-time loops. */
  nextSleeper(): number | null {
    return this.sleepers.length ? Math.min(...this.sleepers.map((s) => s.until)) : null;
  }
}
