import * as vscode from 'vscode';
import { displayName } from '../names';
import type { Comment, LocalThread } from '../collab-protocol';
import { COMMENT_REACTIONS, Viewer, commentContext, highlightMentions, outdatedNote, visibleComments } from './model';

/** One comment as VS Code shows it; `wire` is the relay's comment. */
export class EnsembleComment implements vscode.Comment {
  body: string | vscode.MarkdownString = '';
  mode = vscode.CommentMode.Preview;
  author: vscode.CommentAuthorInformation = { name: '' };
  contextValue = 'ensemble-comment';
  reactions: vscode.CommentReaction[] = [];
  label: string | undefined;
  timestamp: Date | undefined;

  constructor(
    public wire: Comment,
    public pending: boolean,
    readonly parent: vscode.CommentThread,
  ) {}

  get id(): string {
    return this.wire.id;
  }
}

function markdown(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text);
  md.isTrusted = false;
  md.supportHtml = false;
  return md;
}

/** Every reaction is offered (count 0 included): VS Code's picker lists the comment's reactions. */
function reactionsOf(c: Comment, me: string | undefined): vscode.CommentReaction[] {
  const given = c.reactions ?? {};
  const extra = Object.keys(given).filter((e) => !(COMMENT_REACTIONS as readonly string[]).includes(e));
  return [...COMMENT_REACTIONS, ...extra].map((emoji) => {
    const users = given[emoji] ?? [];
    return {
      label: emoji,
      // no icon: VS Code then shows the label (the emoji itself)
      iconPath: '',
      count: users.length,
      authorHasReacted: me !== undefined && users.includes(me),
    };
  });
}

/**
 * The comments of a thread as VS Code shows them: stored ones, then replies sent from here
 * (pending); an outdated thread's first comment quotes the code it was written on.
 */
export function buildComments(
  thread: vscode.CommentThread,
  lt: LocalThread,
  localReplies: readonly Comment[],
  threadPending: boolean,
  v: Viewer,
  editing: ReadonlyMap<string, string>,
): EnsembleComment[] {
  const outdated = lt.outdated || !lt.range;
  const replies = new Set(localReplies.map((c) => c.id));
  return [...visibleComments(lt.thread), ...localReplies].map((c, i) => {
    const pending = threadPending || replies.has(c.id);
    const ec = new EnsembleComment(c, pending, thread);
    const editingText = editing.get(c.id);
    ec.author = { name: displayName(c.author) };
    ec.timestamp = new Date(c.created_at * 1000);
    ec.contextValue = commentContext(c, v, pending);
    ec.reactions = reactionsOf(c, v.me);
    ec.label = pending ? 'sending…' : c.edited_at ? 'edited' : undefined;
    if (editingText !== undefined) {
      ec.mode = vscode.CommentMode.Editing;
      ec.body = editingText;
    } else {
      const text = highlightMentions(c.text, c.mentions);
      ec.body = markdown(i === 0 && outdated ? `${text}\n\n---\n\n${outdatedNote(lt)}` : text);
    }
    return ec;
  });
}

/** The thread widget's title: who started it, resolved, outdated. */
export function threadLabel(lt: LocalThread): string {
  const starter = displayName(lt.thread.author);
  const resolved = lt.thread.resolved ? ' · resolved' : '';
  return lt.outdated || !lt.range
    ? `Outdated: was at line ${lt.thread.anchor.start_line + 1} (started by ${starter})${resolved}`
    : `Started by ${starter}${resolved}`;
}
