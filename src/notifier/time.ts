// Timestamp renderings used by the wire formats. All UTC.

/** `YYYY-MM-DDTHH:MM:SS` — AODH trait dtype 4 (no zone, no fraction). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff` — Python `datetime.isoformat()` of a naive UTC time, as Ceilometer
 * events carry `generated`. */
export function isoMicros(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000`;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` — oslo.messaging's notification `timestamp` (str(utcnow())). */
export function osloTimestamp(ms: number): string {
  return isoMicros(ms).replace('T', ' ');
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parse an ISO 8601 date-time (`T` or space, optional seconds/fraction/zone; no zone = UTC) to ms
 * since the epoch, truncated to whole seconds. Returns null for anything else.
 */
export function parseIsoSeconds(s: string): number | null {
  const m = ISO_RE.exec(s.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || h! > 23 || mi! > 59 || sec! > 59) return null;
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, sec!);
  if (new Date(t).getUTCDate() !== d) return null; // e.g. Feb 30
  const zone = m[7];
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMin = (Number(zm[2]) * 60 + Number(zm[3] ?? 0)) * (zm[1] === '-' ? -1 : 1);
  }
  return t - offsetMin * 60_000;
}
