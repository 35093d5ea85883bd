// Maintenance windows (domain/windows.ts): weekly ranges in a time zone, minus excluded dates.
import { describe, expect, it } from 'vitest';
import { inWindow, nextOpen, parseWindows, type MaintenanceWindows } from '../../src/domain/windows.js';

const w = (p: Partial<MaintenanceWindows>): MaintenanceWindows => ({ timeZone: 'UTC', weekly: [], exclude: [], ...p });
const utc = (s: string) => Date.parse(s);

describe('maintenance windows', () => {
  it('a weekly range in a time zone: inside, before, after', () => {
    // Saturday 01:00-05:00 in Helsinki (UTC+2 in January) = Friday 23:00 to Saturday 03:00 UTC.
    const win = w({ timeZone: 'Europe/Helsinki', weekly: [{ days: ['sat'], start: '01:00', end: '05:00' }] });
    expect(inWindow(win, utc('2026-01-03T00:00:00Z'))).toBe(true);
    expect(inWindow(win, utc('2026-01-03T03:00:00Z'))).toBe(false); // closes at 05:00 local
    expect(nextOpen(win, utc('2026-01-01T10:00:00Z'))).toBe(utc('2026-01-02T23:00:00Z'));
    expect(nextOpen(win, utc('2026-01-03T03:00:00Z'))).toBe(utc('2026-01-09T23:00:00Z'));
  });

  it('a range that crosses midnight belongs to the day it starts on', () => {
    const win = w({ weekly: [{ days: ['fri'], start: '22:00', end: '04:00' }] });
    expect(inWindow(win, utc('2026-01-03T03:59:00Z'))).toBe(true); // Saturday early morning
    expect(inWindow(win, utc('2026-01-03T04:00:00Z'))).toBe(false);
    expect(inWindow(win, utc('2026-01-02T21:59:00Z'))).toBe(false);
  });

  it('an excluded date has no window at any hour, also of a range that started the day before', () => {
    const win = w({ weekly: [{ days: ['fri'], start: '22:00', end: '04:00' }], exclude: ['2026-01-03'] });
    expect(inWindow(win, utc('2026-01-02T23:00:00Z'))).toBe(true);
    expect(inWindow(win, utc('2026-01-03T01:00:00Z'))).toBe(false);
    expect(nextOpen(win, utc('2026-01-03T01:00:00Z'))).toBe(utc('2026-01-09T22:00:00Z'));
    const fridayOff = w({ weekly: [{ days: ['fri'], start: '22:00', end: '04:00' }], exclude: ['2026-01-02'] });
    // Friday excluded: the window opens at Saturday's midnight and runs to 04:00.
    expect(nextOpen(fridayOff, utc('2026-01-02T20:00:00Z'))).toBe(utc('2026-01-03T00:00:00Z'));
  });

  it('follows daylight saving time (Helsinki goes to UTC+3 on 2026-03-29)', () => {
    const win = w({ timeZone: 'Europe/Helsinki', weekly: [{ days: ['sat', 'sun', 'mon'], start: '01:00', end: '02:00' }] });
    expect(nextOpen(win, utc('2026-03-28T12:00:00Z'))).toBe(utc('2026-03-28T23:00:00Z')); // Sunday 01:00 EET
    expect(nextOpen(win, utc('2026-03-29T12:00:00Z'))).toBe(utc('2026-03-29T22:00:00Z')); // Monday 01:00 EEST
  });

  it('says never when every day within its horizon is excluded', () => {
    const sats: string[] = [];
    for (let t = utc('2026-01-03T00:00:00Z'); sats.length < 120; t += 7 * 86_400_000) sats.push(new Date(t).toISOString().slice(0, 10));
    expect(nextOpen(w({ weekly: [{ days: ['sat'], start: '00:00', end: '24:00' }], exclude: sats }), utc('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('parses the wire form and refuses what it cannot mean', () => {
    expect(parseWindows({ time_zone: 'Europe/Berlin', weekly: [{ days: ['Sat', 'sun'], start: '01:00', end: '24:00' }], exclude: ['2026-12-24'] })).toEqual({
      timeZone: 'Europe/Berlin',
      weekly: [{ days: ['sat', 'sun'], start: '01:00', end: '24:00' }],
      exclude: ['2026-12-24'],
    });
    expect(parseWindows({ weekly: [{ days: ['mon'], start: '01:00', end: '02:00' }] })).toMatchObject({ timeZone: 'UTC', exclude: [] });
    expect(parseWindows({ time_zone: 'Mars/Olympus', weekly: [{ days: ['mon'], start: '01:00', end: '02:00' }] })).toMatch(/time_zone/);
    expect(parseWindows({ weekly: [] })).toMatch(/1 to 100/);
    expect(parseWindows({ weekly: [{ days: ['someday'], start: '01:00', end: '02:00' }] })).toMatch(/days/);
    expect(parseWindows({ weekly: [{ days: ['mon'], start: '25:00', end: '02:00' }] })).toMatch(/start/);
    expect(parseWindows({ weekly: [{ days: ['mon'], start: '01:00', end: '01:00' }] })).toMatch(/equal/);
    expect(parseWindows({ weekly: [{ days: ['mon'], start: '01:00', end: '02:00' }], exclude: ['2026-02-30'] })).toMatch(/exclude/);
    expect(parseWindows({ weekly: [{ days: ['mon'], start: '01:00', end: '02:00' }], days: 1 })).toMatch(/unknown field/);
  });
});
