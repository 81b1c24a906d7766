import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageView, PersonView } from '../../src/chat/messages';
import { compareViews, mentionAt, mentionCandidates } from '../../src/chat/webview/order';

function view(id: string, seq: number, createdAt: number): MessageView {
  return {
    id, seq, createdAt, authorId: 'a', authorName: 'A', color: 0, html: '', text: '', editedAt: null,
    parentId: null, to: null, toName: null, reactions: [], deleted: false, pending: seq === 0, mine: false, mentionsMe: false,
  };
}

function person(id: string, name: string): PersonView {
  return { id, name, color: 0, online: true };
}

describe('chat webview ordering', () => {
  it('puts stored messages in seq order and pending ones last, oldest first', () => {
    const views = [view('p2', 0, 50), view('s3', 3, 10), view('p1', 0, 40), view('s1', 1, 30)];
    assert.deepEqual(views.sort(compareViews).map((v) => v.id), ['s1', 's3', 'p1', 'p2']);
  });
});

describe('chat webview @mentions', () => {
  it('finds the @word before a collapsed caret, not inside words, code or a selection', () => {
    assert.deepEqual(mentionAt('hi @Al', 6, 6), { start: 3, query: 'al' });
    assert.deepEqual(mentionAt('@', 1, 1), { start: 0, query: '' });
    assert.equal(mentionAt('mail@al', 7, 7), null);
    assert.equal(mentionAt('`@al', 4, 4), null);
    assert.equal(mentionAt('hi @al', 3, 6), null);
  });

  it('offers people by id prefix or by the prefix of a word of their name, at most eight', () => {
    const people = [person('alice', 'Alice Smith'), person('bob', 'Bob Allen'), person('carol', 'Carol')];
    assert.deepEqual(mentionCandidates(people, 'al').map((p) => p.id), ['alice', 'bob']);
    assert.deepEqual(mentionCandidates(people, 'x'), []);
    const many = Array.from({ length: 12 }, (_, i) => person(`u${i}`, `User ${i}`));
    assert.equal(mentionCandidates(many, 'u').length, 8);
  });
});
