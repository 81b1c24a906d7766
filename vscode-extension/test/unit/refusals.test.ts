import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ChatMessage } from '../../src/collab-protocol';
import { ChatStore } from '../../src/chat/store';
import { VIEWER_CANNOT_COMMENT, humanMessage } from '../../src/human';
import * as lsp from '../../src/protocol';

const alice = { id: 'alice', name: 'Alice' };

function msg(id: string, seq: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { id, session_id: 's1', seq, author: alice, text: `text ${id}`, created_at: 1000 + seq, ...extra };
}

describe('humanMessage', () => {
  it('says what a refusal means for people, per action', () => {
    assert.equal(humanMessage('not_author', lsp.editChat.method, 'only the author may chat edit'), 'You can only edit your own messages.');
    assert.equal(humanMessage('forbidden', lsp.createThread.method, 'a viewer may not thread create'), VIEWER_CANNOT_COMMENT);
    assert.equal(
      VIEWER_CANNOT_COMMENT,
      'Viewers can read and react but not comment on code. Ask the host for the editor role.',
    );
    assert.equal(humanMessage('not_author', lsp.editComment.method), 'You can only edit your own comments.');
  });

  it('falls back to the code, then to the message, never showing ids or codes', () => {
    assert.equal(humanMessage('forbidden', 'other/somethingNew', 'x'), 'Your role in this session does not allow that.');
    assert.equal(humanMessage('session_ended', undefined, 'the session has ended'), 'The session has ended; it can be read but not changed.');
    assert.equal(humanMessage('weird_code', null, 'the daemon says no'), 'The daemon says no');
    assert.equal(humanMessage(undefined, null, ''), 'Something went wrong.');
    for (const text of [humanMessage('not_author', lsp.editChat.method), humanMessage('forbidden')]) {
      assert.doesNotMatch(text, /_|[0-9a-f]{8}/);
    }
  });
});

describe('ChatStore rollback of refused actions', () => {
  it('drops a refused pending send, but never a stored message', () => {
    const store = new ChatStore();
    store.addPending('p1', alice, 'hi', null, null);
    store.upsert([msg('m1', 3)]);
    assert.equal(store.dropPending('m1'), false);
    assert.equal(store.dropPending('p1'), true);
    assert.equal(store.get('p1'), undefined);
    assert.deepEqual(store.ordered().map((m) => m.id), ['m1']);
    assert.equal(store.dropPending('p1'), false);
  });

  it('the message as the daemon sends it after a refusal replaces the optimistic edit', () => {
    const store = new ChatStore();
    const stored = msg('m1', 3, { text: 'typo' });
    store.upsert([stored]);
    store.upsert([{ ...stored, text: 'fixed', edited_at: 2000 }]); // optimistic, same seq
    assert.equal(store.get('m1')?.text, 'fixed');
    store.upsert([stored]); // the daemon's restore after the relay refused the edit
    assert.equal(store.get('m1')?.text, 'typo');
    assert.equal(store.get('m1')?.edited_at ?? null, null);
  });
});
