import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ChatMessage } from '../../src/collab-protocol';
import { parseFromWebview } from '../../src/chat/messages';
import { ChatStore, fallbackColor } from '../../src/chat/store';

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };

function msg(id: string, seq: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { id, session_id: 's1', seq, author: bob, text: `text ${id}`, created_at: 1000 + seq, ...extra };
}

const dir = {
  me: alice,
  people: new Map([['bob', { id: 'bob', name: 'Bob', color: 3, online: true }]]),
};

describe('ChatStore', () => {
  it('keeps a sent message pending until the relay stores it with a seq', () => {
    const store = new ChatStore();
    store.addPending('m1', alice, 'hello', null, null);
    const pending = store.get('m1');
    assert.ok(pending);
    assert.equal(store.view(pending, dir, 8).pending, true);
    store.upsert([{ ...msg('m1', 7), author: alice, text: 'hello' }]);
    const stored = store.get('m1');
    assert.ok(stored);
    assert.equal(store.view(stored, dir, 8).pending, false);
    assert.equal(store.size, 1);
  });

  it('does not turn a stored message back into a pending one when the answer is late', () => {
    const store = new ChatStore();
    store.upsert([{ ...msg('m1', 3), author: alice }]);
    store.addPending('m1', alice, 'text m1', null, null);
    assert.equal(store.get('m1')?.seq, 3);
  });

  it('orders stored messages by seq and keeps pending ones last', () => {
    const store = new ChatStore();
    store.upsert([msg('b', 5), msg('a', 2)]);
    store.addPending('p', alice, 'later', null, null);
    store.upsert([msg('c', 9)]);
    assert.deepEqual(store.ordered().map((m) => m.id), ['a', 'b', 'c', 'p']);
    assert.equal(store.oldestSeq(), 2);
  });

  it('reports only messages it did not have as new', () => {
    const store = new ChatStore();
    assert.equal(store.upsert([msg('a', 1)]).length, 1);
    assert.equal(store.upsert([msg('a', 1, { text: 'edited' })]).length, 0);
    assert.equal(store.get('a')?.text, 'edited');
  });

  it('renders views with sanitized html, author color, reactions and mentions of me', () => {
    const store = new ChatStore();
    store.upsert([
      msg('a', 1, {
        text: '@alice <img src=x onerror=alert(1)>',
        mentions: ['alice'],
        reactions: { '👍': ['alice', 'bob'], '🎉': [] },
      }),
    ]);
    const m = store.get('a');
    assert.ok(m);
    const v = store.view(m, dir, 8);
    assert.equal(v.color, 3);
    assert.equal(v.mentionsMe, true);
    assert.equal(v.mine, false);
    assert.doesNotMatch(v.html, /<img/);
    assert.match(v.html, /<span class="mention me" data-user="alice">@alice<\/span>/);
    assert.deepEqual(v.reactions, [{ emoji: '👍', count: 2, mine: true, who: ['Alice', 'Bob'] }]);
  });

  it('hides the text of a deleted message', () => {
    const store = new ChatStore();
    store.upsert([msg('a', 1, { deleted: true, text: '' })]);
    const m = store.get('a');
    assert.ok(m);
    const v = store.view(m, dir, 8);
    assert.equal(v.deleted, true);
    assert.equal(v.html, '');
  });

  it('colors users not among the peers as the daemon does (sha1 of the id, palette of 12, folded to 8)', () => {
    // expected values from daemon/lsp/views.py color_of() folded like colors.ts
    assert.equal(fallbackColor('alice', 8), 6);
    assert.equal(fallbackColor('bob', 8), 1);
    assert.ok(fallbackColor('carol', 8) < 8);
  });
});

describe('webview messages', () => {
  it('accepts well-formed messages and rejects malformed ones', () => {
    assert.deepEqual(parseFromWebview({ type: 'send', text: 'hi', parentId: null, to: 'bob' }), {
      type: 'send',
      text: 'hi',
      parentId: null,
      to: 'bob',
    });
    assert.equal(parseFromWebview({ type: 'send' }), undefined);
    assert.equal(parseFromWebview({ type: 'openRef', path: 'a.ts', line: 'x' }), undefined);
    assert.equal(parseFromWebview({ type: 'nope' }), undefined);
    assert.equal(parseFromWebview(null), undefined);
    assert.deepEqual(parseFromWebview({ type: 'openRef', path: 'a.ts', line: 3 }), {
      type: 'openRef',
      path: 'a.ts',
      line: 3,
      endLine: null,
    });
  });
});
