// GET /metrics's registry: the engine's own gauges, and the process metrics under the names every
// Prometheus client uses (process_*, nodejs_*), not fenix_process_process_* as before (issue 13).
import { describe, expect, it } from 'vitest';
import type { SessionRow } from '../../src/domain/model.js';
import { metricsRegistry } from '../../src/api/metrics.js';

describe('metricsRegistry', () => {
  it('exports process_* and nodejs_* unprefixed, and the session gauges', async () => {
    const sessions = [{ id: 's1', state: 'MAINTENANCE', paused: false, deleting: false, percentDone: 40 }] as SessionRow[];
    const text = await metricsRegistry({ listSessions: async () => sessions }).metrics();
    const names = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'fenix_sessions', 'fenix_session_percent_done'])
      expect(names, n).toContain(n);
    expect([...names].filter((n) => n.startsWith('fenix_process_') || n.includes('process_process_'))).toEqual([]);
    expect(text).toContain('fenix_sessions{state="MAINTENANCE",paused="false"} 1');
    expect(text).toContain('fenix_session_percent_done{session_id="s1"} 40');
  });
});
