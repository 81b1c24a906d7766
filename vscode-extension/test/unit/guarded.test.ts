import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { drawEach, validPoint } from '../../src/guarded';

describe('validPoint', () => {
  it('accepts non-negative safe integers only', () => {
    assert.deepEqual(validPoint({ line: 3, character: 0 }), { line: 3, character: 0 });
    for (const bad of [{ line: -5, character: 0 }, { line: 1e30, character: 0 }, { line: 1.5, character: 0 },
      { line: 0, character: NaN }, { line: '1', character: 0 }, null, undefined]) {
      assert.equal(validPoint(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('drawEach', () => {
  it('keeps drawing the other peers when one throws, and logs it once', () => {
    const drawn: string[] = [];
    const cleared: string[] = [];
    const logs: string[] = [];
    const failed = new Set<string>();
    const peers: [string, number][] = [['alice', 1], ['mallory', -5], ['bob', 2]];
    const draw = (id: string, line: number): void => {
      if (line < 0) {
        throw new RangeError('Illegal argument: line must be non-negative');
      }
      drawn.push(id);
    };
    for (let i = 0; i < 3; i++) {
      drawEach(peers, draw, (id) => cleared.push(id), failed, (m) => logs.push(m));
    }
    assert.deepEqual(drawn, ['alice', 'bob', 'alice', 'bob', 'alice', 'bob']);
    assert.deepEqual(cleared, ['mallory', 'mallory', 'mallory']);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /mallory: Illegal argument/);
  });
});
