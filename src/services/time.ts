// Parsing the times clients send: "YYYY-MM-DD HH:MM:SS" (UTC, the original's format) and ISO 8601.
export function parseMaintenanceAt(raw: string): number | null {
  const s = raw.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (!m) return null;
  const zone = m[8] ? (m[8].toUpperCase() === 'Z' ? 'Z' : m[8].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : 'Z';
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] ?? ''}${zone}`);
  if (Number.isNaN(t)) return null;
  // Reject calendar overflow such as 2026-02-31 that Date would roll over.
  const d = new Date(Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`));
  if (d.getUTCDate() !== Number(m[3])) return null;
  return t;
}
