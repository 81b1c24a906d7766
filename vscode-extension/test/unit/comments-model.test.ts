import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Comment, LocalThread } from '../../src/collab-protocol';
import { commentContext, highlightMentions, mayComment, outdatedNote, pinLines, threadContext } from '../../src/comments/model';

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };

function comment(author = alice): Comment {
  return { id: 'c1', thread_id: 't1', author, text: 'hi', created_at: 1 };
}

function thread(range: LocalThread['range'], text = ['const a = 1;']): LocalThread {
  return {
    uri: 'file:///w/a.ts',
    range,
    outdated: range === null,
    moved: false,
    thread: {
      id: 't1',
      session_id: 's1',
      anchor: { path: 'a.ts', start_line: 4, end_line: 4 + text.length - 1, text },
      author: alice,
      created_at: 1,
      comments: [comment()],
    },
  };
}

describe('comment permissions', () => {
  it('lets hosts and editors comment, not viewers', () => {
    assert.equal(mayComment({ me: 'a', role: 'host' }), true);
    assert.equal(mayComment({ me: 'a', role: 'editor' }), true);
    assert.equal(mayComment({ me: 'a', role: 'viewer' }), false);
    assert.equal(mayComment({ me: undefined, role: undefined }), false);
  });

  it('offers edit and delete on own comments, delete on any to the host', () => {
    assert.equal(commentContext(comment(alice), { me: 'alice', role: 'editor' }, false), 'ensemble-comment own canEdit canDelete');
    assert.equal(commentContext(comment(bob), { me: 'alice', role: 'editor' }, false), 'ensemble-comment');
    assert.equal(commentContext(comment(bob), { me: 'alice', role: 'host' }, false), 'ensemble-comment canDelete');
    assert.equal(commentContext(comment(alice), { me: 'alice', role: 'editor' }, true), 'ensemble-comment own');
  });

  it('marks threads open or resolved and resolvable by commenters only', () => {
    const t = thread({ start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }).thread;
    assert.equal(threadContext(t, { me: 'alice', role: 'editor' }), 'ensemble-thread isOpen canResolve');
    assert.equal(threadContext({ ...t, resolved: true }, { me: 'bob', role: 'viewer' }), 'ensemble-thread isResolved');
  });

  it('offers deleting a whole thread to the host only', () => {
    const t = thread({ start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }).thread;
    assert.equal(threadContext(t, { me: 'alice', role: 'host' }), 'ensemble-thread isOpen canResolve canDeleteThread');
    assert.doesNotMatch(threadContext(t, { me: 'bob', role: 'editor' }), /canDeleteThread/);
    assert.doesNotMatch(threadContext(t, { me: 'bob', role: 'viewer' }), /canDeleteThread/);
  });
});

describe('thread placement', () => {
  it('pins a thread at its re-anchored range', () => {
    assert.deepEqual(pinLines(thread({ start: { line: 9, character: 0 }, end: { line: 11, character: 3 } })), { start: 9, end: 11 });
  });

  it('pins an outdated thread at its recorded line, inside the file', () => {
    assert.deepEqual(pinLines(thread(null)), { start: 4, end: 4 });
    assert.deepEqual(pinLines(thread(null), 3), { start: 2, end: 2 });
  });

  it('quotes the original code of an outdated thread in a fence longer than any backtick run', () => {
    const note = outdatedNote(thread(null, ['a ``` b', 'c']));
    assert.match(note, /^\*\*Outdated\*\*/);
    assert.match(note, /it was at lines 5-6/);
    assert.ok(note.includes('````\na ``` b\nc\n````'));
  });
});

describe('highlightMentions', () => {
  it('bolds mentions of mentioned users only', () => {
    assert.equal(highlightMentions('ask @bob and @carol', ['bob']), 'ask **@bob** and @carol');
  });
  it('leaves code spans, code blocks and e-mail addresses alone', () => {
    assert.equal(
      highlightMentions('`@bob` then\n```\n@bob\n```\nmail bob@bob.dev, @Bob.', ['bob']),
      '`@bob` then\n```\n@bob\n```\nmail bob@bob.dev, **@Bob**.',
    );
  });
  it('returns the text unchanged without mentions', () => {
    assert.equal(highlightMentions('hi @bob', []), 'hi @bob');
    assert.equal(highlightMentions('hi @bob', undefined), 'hi @bob');
  });
});
