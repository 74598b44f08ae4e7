import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../lib/domain/cursor.ts';
import { parseLimit } from '../../lib/domain/paging.ts';

const anyKey = () => true;
const scope = fc.record({ route: fc.string({ minLength: 1, maxLength: 60 }), gameId: fc.option(fc.string({ maxLength: 128 }), { nil: undefined }) });

describe('page cursors', () => {
  it('give back the key they carry, in the scope they were issued for', () => {
    fc.assert(
      fc.property(scope, fc.string({ maxLength: 300 }), (s, key) => {
        expect(decodeCursor(s, encodeCursor(s, key), anyKey)).toBe(key);
      }),
    );
  });

  it('refuse any single-character change, any cut, and any other scope', () => {
    fc.assert(
      fc.property(scope, fc.string({ minLength: 1, maxLength: 60 }), fc.nat(), fc.string({ maxLength: 60 }), (s, key, at, other) => {
        const cursor = encodeCursor(s, key);
        const i = at % cursor.length;
        const changed = cursor.slice(0, i) + (cursor[i] === 'x' ? 'y' : 'x') + cursor.slice(i + 1);
        expect(decodeCursor(s, changed, anyKey)).toBeUndefined();
        expect(decodeCursor(s, cursor.slice(0, i), anyKey)).toBeUndefined();
        if (other !== s.gameId) expect(decodeCursor({ ...s, gameId: other }, cursor, anyKey)).toBeUndefined();
        if (other !== s.route) expect(decodeCursor({ ...s, route: other }, cursor, anyKey)).toBeUndefined();
      }),
    );
  });

  it('refuse a key the caller’s shape rule rejects, and never throw on garbage', () => {
    const s = { route: 'r', gameId: 'g' };
    expect(decodeCursor(s, encodeCursor(s, 'k'), (k) => k !== 'k')).toBeUndefined();
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,80}\.[A-Za-z0-9_-]{43}$/)), (garbage) => {
        expect(decodeCursor(s, garbage, anyKey)).toBeUndefined();
      }),
    );
  });
});

describe('limit', () => {
  const range = { min: 1, max: 100, default: 20 };
  it('is the default when absent, an integer in range, or refused', () => {
    expect(parseLimit(undefined, range)).toBe(20);
    expect(parseLimit('1', range)).toBe(1);
    expect(parseLimit('100', range)).toBe(100);
    for (const bad of ['0', '101', '01', '1.0', '1e2', ' 1', '1 ', '+1', '-1', '', 'NaN', '0x10', '１']) expect(parseLimit(bad, range), bad).toBeUndefined();
  });
});
