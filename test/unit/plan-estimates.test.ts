// Caller-named keys never reach Object.prototype (issue 8): estimates are looked up as own keys.
import { describe, expect, it } from 'vitest';
import { parseEstimates } from '../../src/services/plan.js';

describe('parseEstimates', () => {
  it('takes the known wire names', () => {
    expect(parseEstimates({ migrate_s: 3, reply_s: 1 })).toEqual({ migrateS: 3, replyS: 1 });
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('refuses %s as an estimate name', (k) => {
    expect(() => parseEstimates(JSON.parse(`{"${k}": 1}`))).toThrow(/unknown estimate/);
  });
});
