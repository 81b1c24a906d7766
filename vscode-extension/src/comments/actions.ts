import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { describeError, humanError } from '../errors';
import { VIEWER_CANNOT_COMMENT } from '../human';
import * as lsp from '../protocol';
import type { CreateThreadParams, LocalThread, Queued } from '../collab-protocol';
import type { ThreadMirror } from './mirror';
import { Viewer, mayComment } from './model';
import { EnsembleComment } from './render';

/**
 * What the user does to comment threads (the commands of comments.ts and the reaction
 * handler): each is a daemon request, then shown at once in the mirror; the daemon's
 * didChangeThreads replaces the optimistic version later.
 */
export class CommentActions {
  constructor(
    private readonly ctx: Ctx,
    private readonly mirror: ThreadMirror,
    private readonly viewer: () => Viewer,
    private readonly sessionId: () => string | null,
  ) {}

  /** "Add Comment" on a new thread made with the gutter "+". */
  async createThread(reply: vscode.CommentReply): Promise<void> {
    const draft = reply.thread;
    const text = reply.text.trim();
    if (!text) {
      return;
    }
    if (!mayComment(this.viewer())) {
      draft.dispose();
      void vscode.window.showInformationMessage(`Ensemble: ${VIEWER_CANNOT_COMMENT}`);
      return;
    }
    const me = this.viewer().me;
    const r = draft.range ?? new vscode.Range(0, 0, 0, 0);
    const params: CreateThreadParams = {
      uri: draft.uri.toString(),
      range: {
        start: { line: r.start.line, character: 0 },
        end: { line: r.end.line, character: 0 },
      },
      text,
    };
    let queued: Queued;
    try {
      queued = await this.ctx.request(lsp.createThread, params);
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.createThread)}`);
      return;
    }
    if (this.mirror.has(queued.id) || !me) {
      draft.dispose(); // the daemon's update was faster than its answer
      return;
    }
    const now = Date.now() / 1000;
    const author = this.ctx.state.session?.you.user ?? { id: me, name: me };
    const local: LocalThread = {
      uri: params.uri,
      range: params.range,
      outdated: false,
      moved: false,
      thread: {
        id: queued.id,
        session_id: this.sessionId() ?? '',
        anchor: { path: vscode.workspace.asRelativePath(draft.uri, false), start_line: r.start.line, end_line: r.end.line, text: [] },
        author,
        created_at: now,
        comments: [{ id: queued.id, thread_id: queued.id, author, text, created_at: now }],
      },
    };
    this.mirror.addPending(queued.id, draft, local);
  }

  /** "Reply" on an existing thread. */
  async reply(reply: vscode.CommentReply): Promise<void> {
    const e = this.mirror.entryOf(reply.thread);
    const text = reply.text.trim();
    if (!e || !text) {
      return;
    }
    const threadId = e.local.thread.id;
    try {
      const queued = await this.ctx.request(lsp.reply, { thread_id: threadId, text });
      const author = this.ctx.state.session?.you.user;
      if (author && !e.local.thread.comments.some((c) => c.id === queued.id)) {
        e.replies.push({ id: queued.id, thread_id: threadId, author, text, created_at: Date.now() / 1000 });
        this.mirror.render(e);
      }
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.reply)}`);
    }
  }

  startEdit(comment: EnsembleComment): void {
    const e = this.mirror.entryOf(comment.parent);
    if (!e) {
      return;
    }
    this.mirror.editing.set(comment.id, comment.wire.text);
    this.mirror.render(e);
  }

  cancelEdit(comment: EnsembleComment): void {
    this.mirror.editing.delete(comment.id);
    const e = this.mirror.entryOf(comment.parent);
    if (e) {
      this.mirror.render(e);
    }
  }

  async saveEdit(comment: EnsembleComment): Promise<void> {
    const e = this.mirror.entryOf(comment.parent);
    const text = (typeof comment.body === 'string' ? comment.body : comment.body.value).trim();
    this.mirror.editing.delete(comment.id);
    if (!e) {
      return;
    }
    if (!text || text === comment.wire.text) {
      this.mirror.render(e);
      return;
    }
    try {
      await this.ctx.request(lsp.editComment, { target_id: comment.id, text });
      this.mirror.patchComment(e, comment.id, (c) => ({ ...c, text, edited_at: Date.now() / 1000 }));
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.editComment)}`);
      this.mirror.render(e);
    }
  }

  async deleteComment(comment: EnsembleComment): Promise<void> {
    const e = this.mirror.entryOf(comment.parent);
    if (!e) {
      return;
    }
    try {
      await this.ctx.request(lsp.deleteComment, { target_id: comment.id });
      this.mirror.patchComment(e, comment.id, (c) => ({ ...c, text: '', deleted: true }));
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.deleteComment)}`);
    }
  }

  async resolve(thread: vscode.CommentThread, resolved: boolean): Promise<void> {
    const e = this.mirror.entryOf(thread);
    if (!e) {
      return;
    }
    // the relay's update can come before the answer: either one draws the resolved state
    e.keepOpen = resolved;
    try {
      await this.ctx.request(lsp.resolveThread, { thread_id: e.local.thread.id, resolved });
      e.local = { ...e.local, thread: { ...e.local.thread, resolved, resolved_by: this.viewer().me ?? null } };
      this.mirror.render(e);
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.resolveThread)}`);
    } finally {
      e.keepOpen = false;
    }
  }

  /** Host only: deletes the thread for everyone once confirmed; it leaves the gutter on the
   *  daemon's didChangeThreads (removed), like a deletion made in another window. */
  async deleteThread(thread: vscode.CommentThread): Promise<void> {
    const e = this.mirror.entryOf(thread);
    if (!e) {
      return;
    }
    const answer = await vscode.window.showWarningMessage(
      'Delete this thread and all its comments for everyone?', { modal: true }, 'Delete Thread');
    if (answer !== 'Delete Thread') {
      return;
    }
    try {
      await this.ctx.request(lsp.deleteThread, { thread_id: e.local.thread.id });
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: could not delete the thread: ${describeError(err)}`);
    }
  }

  /** A reaction clicked in a thread widget: adds mine, or takes it back. */
  async react(comment: vscode.Comment, reaction: vscode.CommentReaction): Promise<void> {
    if (!(comment instanceof EnsembleComment) || comment.pending) {
      return;
    }
    const e = this.mirror.entryOf(comment.parent);
    const me = this.viewer().me;
    try {
      await this.ctx.request(lsp.react, { target_id: comment.id, emoji: reaction.label });
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.react)}`);
      return;
    }
    if (e && me) {
      this.mirror.patchComment(e, comment.id, (c) => {
        const reactions = { ...(c.reactions ?? {}) };
        const users = reactions[reaction.label] ?? [];
        reactions[reaction.label] = users.includes(me) ? users.filter((u) => u !== me) : [...users, me];
        return { ...c, reactions };
      });
    }
  }
}
