import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { LocalThread } from '../../src/collab-protocol';
import { outdatedNote } from '../../src/comments/model';
import { displayName, escapeMarkdown, inlineCode } from '../../src/names';

describe('displayName', () => {
  it('shows the username beside a display name that differs from it', () => {
    assert.equal(displayName({ id: 'mallory', name: 'Alice' }), 'Alice (@mallory)');
    assert.equal(displayName({ id: 'alice', name: 'Alice' }), 'Alice');
    assert.equal(displayName({ id: 'bob', name: '' }), '@bob');
  });
});

describe('escapeMarkdown', () => {
  it('leaves no Markdown to act on', () => {
    assert.equal(escapeMarkdown('**[x](http://e)**'), '\\*\\*\\[x\\]\\(http://e\\)\\*\\*');
  });
});

describe('inlineCode', () => {
  it('fences a text holding backticks with a longer run', () => {
    assert.equal(inlineCode('a`b'), '``a`b``');
    assert.equal(inlineCode('x``y`'), '``` x``y` ```');
  });
});

describe('outdatedNote', () => {
  it('keeps a path with a backtick inside its inline code', () => {
    const lt: LocalThread = {
      uri: 'file:///w/we`ird.ts',
      range: null,
      outdated: true,
      moved: false,
      thread: {
        id: 't1',
        session_id: 's1',
        anchor: { path: 'src/we`ird.ts', start_line: 0, end_line: 0, text: ['x'], before: [], after: [] },
        author: { id: 'alice', name: 'Alice' },
        created_at: 1,
        comments: [],
      },
    };
    const note = outdatedNote(lt);
    assert.ok(note.includes('no longer in ``src/we`ird.ts`` '), note);
  });
});
