// Cross-process nudges over PostgreSQL LISTEN/NOTIFY: an API replica that changed a session wakes
// the engines at once instead of at their next sweep. Polling (the engines' idle sweep of due
// wake_at rows) stays the safety net, so a lost notification only costs latency, never progress.
import pg from 'pg';

const CHANNEL = 'fenix_nudge';

/** How an API wakes the engines that run elsewhere (another process, or the engine thread). */
export interface Nudges {
  notify(sessionId: string): Promise<void>;
  /** Call `onNudge` for every nudge; '' means "look at every session" (e.g. nudges may have been missed). */
  listen(onNudge: (sessionId: string) => void, onError?: (err: unknown) => void): Promise<void>;
  close(): Promise<void>;
}

export class PgNudges implements Nudges {
  private pub: pg.Pool;
  private sub: pg.Client | null = null;

  constructor(private readonly url: string) {
    this.pub = new pg.Pool({ connectionString: url, max: 2 });
  }

  async notify(sessionId: string): Promise<void> {
    await this.pub.query('select pg_notify($1, $2)', [CHANNEL, sessionId]);
  }

  /** Call `onNudge` for every nudge; reconnects after a lost connection. */
  async listen(onNudge: (sessionId: string) => void, onError: (err: unknown) => void = () => {}): Promise<void> {
    const connect = async () => {
      const c = new pg.Client({ connectionString: this.url });
      c.on('notification', (m) => m.payload && onNudge(m.payload));
      c.on('error', (err) => {
        onError(err);
        if (this.sub === c) {
          this.sub = null;
          setTimeout(() => void connect().catch(onError), 1000).unref();
        }
      });
      await c.connect();
      await c.query(`listen ${CHANNEL}`);
      this.sub = c;
      onNudge(''); // (re)connected: look at everything once, nudges may have been missed
    };
    await connect();
  }

  async close(): Promise<void> {
    const s = this.sub;
    this.sub = null;
    await Promise.allSettled([s?.end(), this.pub.end()]);
  }
}
