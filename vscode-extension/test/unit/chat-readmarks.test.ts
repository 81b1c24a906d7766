import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ChatMessage } from '../../src/collab-protocol';
import { MAX_MARKS, READ_MARKS_KEY, ReadMarks } from '../../src/chat/readmarks';
import { ChatStore } from '../../src/chat/store';

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };

function msg(id: string, seq: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { id, session_id: 's1', seq, author: bob, text: `text ${id}`, created_at: 1000 + seq, ...extra };
}

class MemoryStorage {
  readonly data = new Map<string, unknown>();
  writes = 0;
  get(key: string): unknown {
    return this.data.get(key);
  }
  update(key: string, value: unknown): Promise<void> {
    this.writes += 1;
    this.data.set(key, JSON.parse(JSON.stringify(value)));
    return Promise.resolve();
  }
}

describe('unread after a read mark', () => {
  it("counts others' messages after the mark, not one's own, deleted or pending ones", () => {
    const store = new ChatStore();
    store.upsert([
      msg('m1', 1),
      msg('m2', 2),
      msg('m3', 3, { author: alice }),
      msg('m4', 4, { deleted: true, text: '' }),
      msg('m5', 5),
    ]);
    store.addPending('p1', alice, 'mine, not stored yet', null, null);
    assert.equal(store.newestSeq(), 5);
    assert.equal(store.unreadAfter(1, 'alice'), 2); // m2 and m5
    assert.equal(store.unreadAfter(5, 'alice'), 0);
    assert.equal(store.unreadAfter(0, undefined), 4); // everyone's but the deleted one
    assert.equal(new ChatStore().newestSeq(), 0);
  });
});

describe('ReadMarks', () => {
  it('remembers the last seq read per session and never moves back', async () => {
    const storage = new MemoryStorage();
    const marks = new ReadMarks(storage);
    assert.equal(marks.get('s1'), undefined);
    await marks.set('s1', 0);
    assert.equal(marks.get('s1'), 0);
    await marks.set('s1', 7);
    await marks.set('s1', 3);
    assert.equal(marks.get('s1'), 7);
    const writes = storage.writes;
    await marks.set('s1', 7);
    assert.equal(storage.writes, writes); // nothing new: no write
    assert.equal(new ReadMarks(storage).get('s1'), 7); // read back from storage
  });

  it('forgets the least recently read sessions beyond the limit', async () => {
    const storage = new MemoryStorage();
    let t = 0;
    const marks = new ReadMarks(storage, () => ++t);
    for (let i = 0; i < MAX_MARKS + 5; i++) {
      await marks.set(`s${i}`, i + 1);
    }
    const kept = Object.keys(storage.get(READ_MARKS_KEY) as object);
    assert.equal(kept.length, MAX_MARKS);
    assert.equal(marks.get('s0'), undefined);
    assert.equal(marks.get(`s${MAX_MARKS + 4}`), MAX_MARKS + 5);
  });

  it('ignores a malformed stored value', () => {
    const storage = new MemoryStorage();
    storage.data.set(READ_MARKS_KEY, 'garbage');
    assert.equal(new ReadMarks(storage).get('s1'), undefined);
  });
});
