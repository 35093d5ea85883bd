// Maintenance windows (issue 12): weekly day-and-hour ranges in a time zone, minus excluded local
// dates, as kured, system-upgrade-controller and GKE offer. Outside a window a session takes no new
// host down (what already runs finishes). Pure: time zones through Intl, no clock.

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface WeeklyWindow {
  /** Local days the window starts on. */
  days: Weekday[];
  /** Local "HH:MM" the window opens. */
  start: string;
  /** Local "HH:MM" it closes ("24:00": midnight); at or before `start`: on the next day. */
  end: string;
}

export interface MaintenanceWindows {
  /** IANA time zone the days, hours and dates are in (default UTC). */
  timeZone: string;
  weekly: WeeklyWindow[];
  /** Local dates ("YYYY-MM-DD") on which no new host is taken down at any hour. */
  exclude: string[];
}

const DAY_MS = 86_400_000;
/** How far ahead nextOpen looks before it says "never" (a year of exclusions and then some). */
const HORIZON_DAYS = 800;

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `windows` of a session body, checked: the windows, or a message saying what is wrong. */
export function parseWindows(raw: unknown): MaintenanceWindows | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'windows must be an object: {"time_zone", "weekly": [{"days", "start", "end"}], "exclude"}';
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!['time_zone', 'weekly', 'exclude'].includes(k)) return `windows: unknown field ${JSON.stringify(k)} (time_zone, weekly, exclude)`;
  const timeZone = r.time_zone === undefined ? 'UTC' : r.time_zone;
  if (typeof timeZone !== 'string' || !validZone(timeZone)) return `windows.time_zone ${JSON.stringify(r.time_zone)} is not an IANA time zone (e.g. "Europe/Helsinki", "UTC")`;
  if (!Array.isArray(r.weekly) || r.weekly.length === 0 || r.weekly.length > 100) return 'windows.weekly must list 1 to 100 windows';
  const weekly: WeeklyWindow[] = [];
  for (const [i, w] of r.weekly.entries()) {
    const at = `windows.weekly[${i}]`;
    if (typeof w !== 'object' || w === null || Array.isArray(w)) return `${at} must be {"days": [...], "start": "HH:MM", "end": "HH:MM"}`;
    const { days, start, end, ...rest } = w as Record<string, unknown>;
    if (Object.keys(rest).length) return `${at}: unknown field ${JSON.stringify(Object.keys(rest)[0])} (days, start, end)`;
    if (!Array.isArray(days) || !days.length || days.some((d) => typeof d !== 'string' || !WEEKDAYS.includes(d.toLowerCase() as Weekday)))
      return `${at}.days must list days among ${WEEKDAYS.join(', ')}`;
    if (typeof start !== 'string' || !HHMM.test(start) || start === '24:00') return `${at}.start must be "HH:MM" (00:00 to 23:59)`;
    if (typeof end !== 'string' || !HHMM.test(end)) return `${at}.end must be "HH:MM" (00:00 to 24:00)`;
    if (start === end) return `${at}: start and end are equal; for a whole day use "00:00" to "24:00"`;
    weekly.push({ days: [...new Set((days as string[]).map((d) => d.toLowerCase() as Weekday))], start, end });
  }
  const exclude = r.exclude === undefined ? [] : r.exclude;
  if (!Array.isArray(exclude) || exclude.length > 1000) return 'windows.exclude must be a list of at most 1000 dates "YYYY-MM-DD"';
  for (const d of exclude) if (typeof d !== 'string' || !validDate(d)) return `windows.exclude: ${JSON.stringify(d)} is not a date "YYYY-MM-DD"`;
  return { timeZone, weekly, exclude: [...new Set(exclude as string[])].sort() };
}

export const inWindow = (w: MaintenanceWindows, t: number): boolean => nextOpen(w, t) === t;

/**
 * The first moment at or after `t` inside a window (t itself when it is inside one); null when no
 * window opens within the horizon (every day excluded, say).
 */
export function nextOpen(w: MaintenanceWindows, t: number): number | null {
  const excluded = new Set(w.exclude);
  const tz = w.timeZone;
  const first = localDate(tz, t);
  let best: number | null = null;
  // From the day before t (a window that crosses midnight may still be open), day by day.
  for (let k = -1; k <= HORIZON_DAYS; k++) {
    const day = addDays(first, k);
    const dayStart = zonedToUtc(tz, day, 0);
    if (best !== null && dayStart > best) break; // nothing of this day or later can open earlier
    const weekday = WEEKDAYS[dayOfWeek(day)]!;
    for (const rule of w.weekly) {
      if (!rule.days.includes(weekday)) continue;
      const s = minutes(rule.start);
      const e = minutes(rule.end);
      const open = zonedToUtc(tz, day, s);
      const close = e > s ? zonedToUtc(tz, day, e) : zonedToUtc(tz, addDays(day, 1), e);
      if (close <= t) continue;
      // Pieces of [open, close) whose local date is not excluded (split at the local midnights inside).
      let a = open;
      while (a < close) {
        const date = localDate(tz, a);
        const midnight = zonedToUtc(tz, addDays(date, 1), 0);
        const b = Math.min(close, midnight);
        if (!excluded.has(date) && b > t) {
          const c = Math.max(a, t);
          if (best === null || c < best) best = c;
          break;
        }
        a = b;
      }
    }
  }
  return best;
}

// ---- time zone arithmetic over Intl ---------------------------------------------------------

const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formats.set(tz, f);
  }
  return f;
}

function validZone(tz: string): boolean {
  if (tz.length > 64) return false;
  try {
    format(tz);
    return true;
  } catch {
    return false;
  }
}

/** Local wall-clock fields of instant t in tz. */
function parts(tz: string, t: number): { y: number; m: number; d: number; hh: number; mm: number; ss: number } {
  const p: Record<string, number> = {};
  for (const x of format(tz).formatToParts(new Date(t))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return { y: p.year!, m: p.month!, d: p.day!, hh: p.hour! % 24, mm: p.minute!, ss: p.second! };
}

/** Offset of tz from UTC at instant t, in ms (local = UTC + offset). */
function offset(tz: string, t: number): number {
  const p = parts(tz, t);
  const local = Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm, p.ss);
  return local - Math.floor(t / 1000) * 1000;
}

/** The instant of local date `day` ("YYYY-MM-DD") at `mins` minutes after its midnight in tz. */
function zonedToUtc(tz: string, day: string, mins: number): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d) + mins * 60_000;
  const o1 = offset(tz, wall);
  const t = wall - o1;
  const o2 = offset(tz, t);
  return o2 === o1 ? t : wall - o2; // across a DST change: the offset in force at the result
}

function localDate(tz: string, t: number): string {
  const p = parts(tz, t);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

function addDays(day: string, k: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d) + k * DAY_MS).toISOString().slice(0, 10);
}

function dayOfWeek(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function validDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}
