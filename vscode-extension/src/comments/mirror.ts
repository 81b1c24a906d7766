import * as vscode from 'vscode';
import type { Comment, LocalThread } from '../collab-protocol';
import { Viewer, mayComment, pinLines, threadContext, visibleComments } from './model';
import { buildComments, threadLabel } from './render';
import { showResolved } from './rollback';

/** One thread as this window shows it. */
export interface Entry {
  thread: vscode.CommentThread;
  local: LocalThread;
  /** created here and not yet stored by the relay */
  pending: boolean;
  /** replies sent from here, not yet in `local` */
  replies: Comment[];
  /** being resolved from here: when the resolved state is drawn, the widget stays open so
   *  Reopen is in sight (whether the relay's update or the request's answer comes first) */
  keepOpen?: boolean;
}

/**
 * The session's threads as VS Code comment threads, by thread id: each entry's data
 * (the daemon's LocalThread plus what was done here and is not yet stored) written into its
 * vscode.CommentThread by `render`.
 */
export class ThreadMirror {
  private readonly entries = new Map<string, Entry>();
  /** comment id -> text being edited */
  readonly editing = new Map<string, string>();

  constructor(
    private readonly controller: vscode.CommentController,
    private readonly viewer: () => Viewer,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(threadId: string): Entry | undefined {
    return this.entries.get(threadId);
  }

  has(threadId: string): boolean {
    return this.entries.has(threadId);
  }

  all(): IterableIterator<Entry> {
    return this.entries.values();
  }

  /** The entry of a VS Code thread, if it is one of ours. */
  entryOf(thread: vscode.CommentThread): Entry | undefined {
    for (const e of this.entries.values()) {
      if (e.thread === thread) {
        return e;
      }
    }
    return undefined;
  }

  /** A thread made here (a draft the user wrote), shown at once as pending. */
  addPending(threadId: string, thread: vscode.CommentThread, local: LocalThread): void {
    const entry: Entry = { thread, local, pending: true, replies: [] };
    this.entries.set(threadId, entry);
    this.render(entry);
  }

  /** The daemon's version of a thread: replaces ours, or creates the VS Code thread. */
  upsert(lt: LocalThread): void {
    const uri = vscode.Uri.parse(lt.uri);
    const existing = this.entries.get(lt.thread.id);
    if (existing && existing.thread.uri.toString() !== uri.toString()) {
      existing.thread.dispose();
      this.entries.delete(lt.thread.id);
    }
    const entry = this.entries.get(lt.thread.id);
    if (entry) {
      entry.local = lt;
      entry.pending = false;
      const stored = new Set(lt.thread.comments.map((c) => c.id));
      entry.replies = entry.replies.filter((c) => !stored.has(c.id));
      this.render(entry);
      return;
    }
    if (!visibleComments(lt.thread).length) {
      return;
    }
    const thread = this.controller.createCommentThread(uri, this.rangeOf(lt, uri), []);
    if (lt.thread.resolved) {
      thread.collapsibleState = vscode.CommentThreadCollapsibleState.Collapsed;
    }
    const created: Entry = { thread, local: lt, pending: false, replies: [] };
    this.entries.set(lt.thread.id, created);
    this.render(created);
  }

  remove(threadId: string): void {
    const e = this.entries.get(threadId);
    if (e) {
      e.thread.dispose();
      this.entries.delete(threadId);
    }
  }

  clear(): void {
    for (const e of this.entries.values()) {
      e.thread.dispose();
    }
    this.entries.clear();
    this.editing.clear();
  }

  /** The lines a thread is pinned to in its document (open or not). */
  rangeOf(lt: LocalThread, uri: vscode.Uri): vscode.Range {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const { start, end } = pinLines(lt, doc?.lineCount);
    return new vscode.Range(start, 0, end, 0);
  }

  /** Writes an entry's data into its VS Code thread. */
  render(e: Entry): void {
    const v = this.viewer();
    const lt = e.local;
    const t = e.thread;
    const range = this.rangeOf(lt, t.uri);
    if (!t.range || !t.range.isEqual(range)) {
      t.range = range;
    }
    if (!visibleComments(lt.thread).length && !e.replies.length) {
      this.remove(lt.thread.id);
      return;
    }
    t.comments = buildComments(t, lt, e.replies, e.pending, v, this.editing);
    t.label = threadLabel(lt);
    t.contextValue = threadContext(lt.thread, v);
    t.canReply = mayComment(v) && !e.pending;
    const state = lt.thread.resolved ? vscode.CommentThreadState.Resolved : vscode.CommentThreadState.Unresolved;
    if (t.state !== state) {
      t.state = state;
      if (e.keepOpen && lt.thread.resolved) {
        e.keepOpen = false;
        showResolved(t, () => this.entries.get(lt.thread.id) === e && !!e.local.thread.resolved);
      }
    }
  }

  /** Local, optimistic change of one comment until the daemon's update arrives. */
  patchComment(e: Entry, commentId: string, change: (c: Comment) => Comment): void {
    const comments = e.local.thread.comments.map((c) => (c.id === commentId ? change(c) : c));
    e.local = { ...e.local, thread: { ...e.local.thread, comments } };
    e.replies = e.replies.map((c) => (c.id === commentId ? change(c) : c));
    this.render(e);
  }
}
