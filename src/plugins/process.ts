// Running a plug-in's program: argv only (never a shell string), in a process group of its own so
// a timeout or an aborted session ends the program and everything it started, output captured
// within bounds. When the engine dies the program dies with it (a parent-death signal, set by
// util-linux's setpriv where there is one), and the next attempt first kills what is left of the
// interrupted attempt's group (saved with the run): a run completes once.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Output kept per run: its beginning and, mostly, its end (where errors are). */
const HEAD_BYTES = 8 * 1024;
const TAIL_BYTES = 56 * 1024;
/** Time a program has between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** stdout and stderr as they arrive, interleaved, keeping the first HEAD and the last TAIL bytes. */
export class BoundedOutput {
  private head = Buffer.alloc(0);
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;

  constructor(
    private readonly headMax = HEAD_BYTES,
    private readonly tailMax = TAIL_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (this.head.length < this.headMax) {
      const take = chunk.subarray(0, this.headMax - this.head.length);
      this.head = Buffer.concat([this.head, take]);
      chunk = chunk.subarray(take.length);
    }
    if (!chunk.length) return;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tailBytes > this.tailMax) {
      const over = this.tailBytes - this.tailMax;
      const first = this.tail[0]!;
      if (first.length <= over) {
        this.tail.shift();
        this.tailBytes -= first.length;
        this.dropped += first.length;
      } else {
        this.tail[0] = first.subarray(over);
        this.tailBytes -= over;
        this.dropped += over;
      }
    }
  }

  text(): string {
    const gap = this.dropped ? `\n[... ${this.dropped} bytes left out ...]\n` : '';
    return this.head.toString('utf8') + gap + Buffer.concat(this.tail).toString('utf8');
  }
}

/** What identifies a process group on this machine, saved with the run (see killStaleGroup). */
export interface GroupIdentity {
  pgid: number;
  /** The kernel's boot id and pid namespace: another boot or container has other pids. */
  boot: string;
  pidns: string;
  /** The leader's start time in clock ticks since boot (a reused pid has another). */
  startTicks: number;
}

export interface ProcessSpec {
  command: string;
  args: string[];
  /** The child's whole environment. */
  env: Record<string, string>;
  cwd?: string;
  signal: AbortSignal;
  /** Called right after the start with the group's identity (the engine saves it with the run). */
  onStart?: (id: GroupIdentity | null) => Promise<void>;
  output?: BoundedOutput;
}

export interface ProcessOutcome {
  /** Exit code (null: ended by a signal, or never started). */
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** The run was stopped by `signal`. */
  aborted: boolean;
  /** Why it did not start (ENOENT, EACCES). */
  startError?: string;
}

/**
 * setpriv --pdeathsig KILL: the program gets SIGKILL when the thread that started it ends (the
 * engine's, with its process). Without it, a program would finish its work after an engine crash
 * while the next engine runs it again.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

/** Run a program to its end, or until `signal` aborts it (then its whole group is killed). */
export function runProcess(spec: ProcessSpec): Promise<ProcessOutcome> {
  const out = spec.output ?? new BoundedOutput();
  return new Promise((resolve) => {
    if (spec.signal.aborted) return resolve({ code: null, signal: null, output: '', aborted: true });
    const [command, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', spec.command, ...spec.args]] : [spec.command, spec.args];
    const child = spawn(command, args, {
      env: spec.env,
      ...(spec.cwd && { cwd: spec.cwd }),
      detached: true, // its own process group: kill(-pid) reaches everything it starts
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const saved = child.pid !== undefined && spec.onStart ? spec.onStart(groupIdentity(child.pid)).catch(() => {}) : Promise.resolve();
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* the group is gone */
      }
    };
    const onAbort = () => {
      aborted = true;
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
    };
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => out.push(c));
    const finish = (o: Omit<ProcessOutcome, 'output' | 'aborted'>) => {
      if (settled) return;
      settled = true;
      spec.signal.removeEventListener('abort', onAbort);
      // Aborted: what the group left running after SIGTERM goes too, at once.
      if (aborted) {
        clearTimeout(killTimer);
        kill('SIGKILL');
      }
      const outcome = { ...o, output: out.text(), aborted };
      // The group's identity is saved before the outcome is: a save landing after the run's result
      // was recorded would overwrite it (a fast program ends before its start is written).
      void saved.then(() => resolve(outcome));
    };
    child.once('error', (err: NodeJS.ErrnoException) => finish({ code: null, signal: null, startError: `${spec.command}: ${err.code ?? err.message}` }));
    child.once('exit', (code, sig) => {
      // Output still in the pipes arrives before 'close'; a background child holding them open
      // must not hold the run: take what came within a moment.
      const done = () => finish({ code, signal: sig });
      const t = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        done();
      }, 500);
      child.once('close', () => {
        clearTimeout(t);
        done();
      });
    });
    spec.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The identity of the group led by `pid`, or null where /proc cannot tell (not Linux, already gone). */
export function groupIdentity(pid: number): GroupIdentity | null {
  const startTicks = startTicksOf(pid);
  const machine = thisMachine();
  if (startTicks === null || !machine) return null;
  return { pgid: pid, ...machine, startTicks };
}

/**
 * Kill what is left of an earlier attempt's process group (its engine died, the programs did not).
 * Safe against reused pids: a live leader must have the saved start time, and Linux hands out no
 * pid that is still some group's id. Returns a line for the run's output, or null when nothing ran.
 */
export async function killStaleGroup(saved: unknown): Promise<string | null> {
  const id = asIdentity(saved);
  if (!id) return null;
  const here = thisMachine();
  if (!here || here.boot !== id.boot || here.pidns !== id.pidns)
    return `note: the previous attempt ran on another machine or before a reboot (process group ${id.pgid}); it was not checked`;
  const ticks = startTicksOf(id.pgid);
  if (ticks !== null && ticks !== id.startTicks) return null; // the pid is someone else's now: ours is gone
  const left = liveMembers(id.pgid);
  if (left.length === 0) return null; // nothing left but zombies waiting to be reaped
  try {
    process.kill(-id.pgid, 'SIGKILL');
  } catch {
    return null; // no such group
  }
  for (let i = 0; i < 100 && liveMembers(id.pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return `killed ${left.length} process(es) of the previous attempt still running after its engine stopped (process group ${id.pgid})`;
}

/** Processes of group `pgid` that are not zombies (one read of /proc per process). */
function liveMembers(pgid: number): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [pgid]; // no /proc: assume the group may still be there
  }
  const out: number[] = [];
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(p));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

function asIdentity(v: unknown): GroupIdentity | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!Number.isSafeInteger(o.pgid) || (o.pgid as number) <= 1 || typeof o.boot !== 'string' || typeof o.pidns !== 'string' || !Number.isSafeInteger(o.startTicks)) return null;
  return { pgid: o.pgid as number, boot: o.boot, pidns: o.pidns, startTicks: o.startTicks as number };
}

let machine: { boot: string; pidns: string } | null | undefined;

function thisMachine(): { boot: string; pidns: string } | null {
  if (machine !== undefined) return machine;
  try {
    machine = { boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pidns: readlinkSync('/proc/self/ns/pid') };
  } catch {
    machine = null;
  }
  return machine;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function startTicksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isSafeInteger(v) ? v : null;
  } catch {
    return null;
  }
}

/** A program's outcome as a plug-in result: exit 0 is success. */
export function processResult(o: ProcessOutcome, what: string): { ok: boolean; output: string } {
  if (o.startError) return { ok: false, output: `${what} could not start: ${o.startError}` };
  if (o.code === 0 && !o.aborted) return { ok: true, output: o.output };
  const how = o.code !== null ? `exit code ${o.code}` : `signal ${o.signal ?? 'unknown'}`;
  return { ok: false, output: `${o.output}${o.output && !o.output.endsWith('\n') ? '\n' : ''}[${what} ended with ${how}]` };
}
