import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { describeError, humanError } from '../errors';
import { VIEWER_CANNOT_COMMENT } from '../human';
import * as lsp from '../protocol';
import { shareable } from '../tracking';
import type {
  Comment,
  CreateThreadParams,
  EditParams,
  ErrorParams,
  LocalThread,
  Queued,
  ReactParams,
  ReplyParams,
  ResolveThreadParams,
  TargetParams,
  ThreadIdParams,
  ThreadsChangedParams,
  ThreadsParams,
} from '../collab-protocol';
import { Viewer, mayComment, pinLines, threadContext, visibleComments } from './model';
import { EnsembleComment, buildComments, threadLabel } from './render';
import { KEEP_OPEN_MS, refusedCommentAction, reopenWidget } from './rollback';

export { EnsembleComment } from './render';

interface Entry {
  thread: vscode.CommentThread;
  local: LocalThread;
  /** created here and not yet stored by the relay */
  pending: boolean;
  /** replies sent from here, not yet in `local` */
  replies: Comment[];
  /** resolved from here a moment ago: keep the widget open so Reopen stays in sight */
  keepOpen?: boolean;
}

/**
 * The session's comment threads in the editor gutter, through one
 * CommentController. The daemon owns the data and the anchoring; this class
 * only mirrors it into VS Code and sends the user's actions back.
 */
export class ThreadManager implements vscode.Disposable {
  readonly controller: vscode.CommentController;
  private readonly entries = new Map<string, Entry>();
  private readonly editing = new Map<string, string>(); // comment id -> text being edited
  private sessionId: string | null = null;
  private allowed = false;
  private rangesInSession = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.controller = vscode.comments.createCommentController('ensemble', 'Ensemble');
    // set once and before reactionHandler: VS Code keeps only the controller feature set last
    // (options or reactions), and reactions must work
    this.controller.options = {
      prompt: 'Add an Ensemble comment…',
      placeHolder: 'Markdown; type @ to mention a participant',
    };
    this.controller.reactionHandler = (comment, reaction) => this.react(comment, reaction);
    this.setRangeProvider();
    this.disposables.push(
      this.controller,
      ctx.onNotification(lsp.didChangeThreads, (p) => this.onChanged(p)),
      ctx.onNotification(lsp.didError, (p) => this.onRefused(p)),
      ctx.onDidChangeState((change) => {
        if (change === 'session' || change === 'daemon') {
          this.onSession();
        }
      }),
    );
    this.onSession();
  }

  // ----- who may do what ----------------------------------------------------------------

  private viewer(): Viewer {
    const s = this.ctx.state.session;
    return { me: s?.you.user.id ?? this.ctx.me, role: s?.you.role };
  }

  /**
   * (Re)installs the commenting range provider; VS Code asks it again when it is set.
   * A viewer gets the ranges too, so the gutter "+" is there: adding a comment then says
   * why viewers do not comment on code (createThread).
   */
  private setRangeProvider(): void {
    this.allowed = this.ctx.inSession && mayComment(this.viewer());
    const inSession = this.ctx.inSession;
    this.controller.commentingRangeProvider = {
      provideCommentingRanges: (doc: vscode.TextDocument): vscode.Range[] => {
        if (!inSession || !shareable(doc)) {
          return [];
        }
        return [new vscode.Range(0, 0, Math.max(0, doc.lineCount - 1), 0)];
      },
    };
  }

  private onSession(): void {
    const id = this.ctx.state.session?.session.session_id ?? null;
    const allowed = this.ctx.inSession && mayComment(this.viewer());
    if (allowed !== this.allowed || this.ctx.inSession !== this.rangesInSession) {
      this.rangesInSession = this.ctx.inSession;
      this.setRangeProvider();
    }
    if (id !== this.sessionId) {
      this.sessionId = id;
      this.clear();
      if (id) {
        void this.load();
      }
    } else {
      for (const e of this.entries.values()) {
        this.render(e); // the role may have changed
      }
    }
  }

  // ----- data from the daemon -------------------------------------------------------

  /** Loads every thread of the session (and earlier sessions on this repository). */
  async load(): Promise<void> {
    const session = this.sessionId;
    try {
      const params: ThreadsParams = { uri: null };
      const res = await this.ctx.request(lsp.threads, params);
      if (session !== this.sessionId) {
        return;
      }
      const seen = new Set<string>();
      for (const lt of res.threads) {
        seen.add(lt.thread.id);
        this.upsert(lt);
      }
      for (const [id, e] of this.entries) {
        if (!seen.has(id) && !e.pending) {
          this.remove(id);
        }
      }
      this.ctx.log(`comments: ${res.threads.length} threads loaded`);
    } catch (err) {
      this.ctx.log(`comments: loading threads failed: ${describeError(err)}`);
    }
  }

  /**
   * The relay refused one of our comment actions: a refused new thread or reply goes
   * away; for the rest the daemon sends the thread as it is (onChanged rolls back).
   */
  private onRefused(p: ErrorParams): void {
    const id = refusedCommentAction(p);
    if (!id) {
      return; // the toast with humanMessage(code, method) comes from notices.ts
    }
    if (this.entries.get(id)?.pending) {
      this.remove(id);
    }
    for (const e of this.entries.values()) {
      if (e.replies.some((c) => c.id === id)) {
        e.replies = e.replies.filter((c) => c.id !== id);
        this.render(e);
      }
    }
  }

  private onChanged(p: ThreadsChangedParams): void {
    for (const lt of p.threads) {
      this.upsert(lt);
    }
    for (const id of p.removed ?? []) {
      this.remove(id);
    }
  }

  private upsert(lt: LocalThread): void {
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
      if (entry.keepOpen && lt.thread.resolved) {
        // the relay's resolved state: VS Code collapses the widget once more, however late
        reopenWidget(entry.thread);
        entry.keepOpen = false;
      }
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

  private remove(threadId: string): void {
    const e = this.entries.get(threadId);
    if (e) {
      e.thread.dispose();
      this.entries.delete(threadId);
    }
  }

  private clear(): void {
    for (const e of this.entries.values()) {
      e.thread.dispose();
    }
    this.entries.clear();
    this.editing.clear();
  }

  private rangeOf(lt: LocalThread, uri: vscode.Uri): vscode.Range {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const { start, end } = pinLines(lt, doc?.lineCount);
    return new vscode.Range(start, 0, end, 0);
  }

  /** Writes an entry's data into its VS Code thread. */
  private render(e: Entry): void {
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
    }
  }

  // ----- user actions -------------------------------------------------------------------

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
    if (this.entries.has(queued.id) || !me) {
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
        session_id: this.sessionId ?? '',
        anchor: { path: vscode.workspace.asRelativePath(draft.uri, false), start_line: r.start.line, end_line: r.end.line, text: [] },
        author,
        created_at: now,
        comments: [{ id: queued.id, thread_id: queued.id, author, text, created_at: now }],
      },
    };
    const entry: Entry = { thread: draft, local, pending: true, replies: [] };
    this.entries.set(queued.id, entry);
    this.render(entry);
  }

  /** "Reply" on an existing thread. */
  async reply(reply: vscode.CommentReply): Promise<void> {
    const e = this.entryOf(reply.thread);
    const text = reply.text.trim();
    if (!e || !text) {
      return;
    }
    const params: ReplyParams = { thread_id: e.local.thread.id, text };
    try {
      const queued = await this.ctx.request(lsp.reply, params);
      const author = this.ctx.state.session?.you.user;
      if (author && !e.local.thread.comments.some((c) => c.id === queued.id)) {
        e.replies.push({ id: queued.id, thread_id: params.thread_id, author, text, created_at: Date.now() / 1000 });
        this.render(e);
      }
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.reply)}`);
    }
  }

  startEdit(comment: EnsembleComment): void {
    const e = this.entryOf(comment.parent);
    if (!e) {
      return;
    }
    this.editing.set(comment.id, comment.wire.text);
    this.render(e);
  }

  cancelEdit(comment: EnsembleComment): void {
    this.editing.delete(comment.id);
    const e = this.entryOf(comment.parent);
    if (e) {
      this.render(e);
    }
  }

  async saveEdit(comment: EnsembleComment): Promise<void> {
    const e = this.entryOf(comment.parent);
    const text = (typeof comment.body === 'string' ? comment.body : comment.body.value).trim();
    this.editing.delete(comment.id);
    if (!e) {
      return;
    }
    if (!text || text === comment.wire.text) {
      this.render(e);
      return;
    }
    try {
      const params: EditParams = { target_id: comment.id, text };
      await this.ctx.request(lsp.editComment, params);
      this.patchComment(e, comment.id, (c) => ({ ...c, text, edited_at: Date.now() / 1000 }));
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.editComment)}`);
      this.render(e);
    }
  }

  async deleteComment(comment: EnsembleComment): Promise<void> {
    const e = this.entryOf(comment.parent);
    if (!e) {
      return;
    }
    try {
      const params: TargetParams = { target_id: comment.id };
      await this.ctx.request(lsp.deleteComment, params);
      this.patchComment(e, comment.id, (c) => ({ ...c, text: '', deleted: true }));
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.deleteComment)}`);
    }
  }

  async resolve(thread: vscode.CommentThread, resolved: boolean): Promise<void> {
    const e = this.entryOf(thread);
    if (!e) {
      return;
    }
    try {
      const params: ResolveThreadParams = { thread_id: e.local.thread.id, resolved };
      await this.ctx.request(lsp.resolveThread, params);
      e.local = { ...e.local, thread: { ...e.local.thread, resolved, resolved_by: this.viewer().me ?? null } };
      this.render(e);
      if (resolved) {
        // VS Code collapses a thread once the resolved state reaches it, which hides Reopen
        // in its title: open it again after that (and when the relay's update arrives)
        e.keepOpen = true;
        setTimeout(() => {
          if (this.entries.get(e.local.thread.id) === e) {
            reopenWidget(e.thread);
          }
        }, KEEP_OPEN_MS);
      }
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.resolveThread)}`);
    }
  }

  /** Host only: deletes the thread for everyone once confirmed; it leaves the gutter on the
   *  daemon's didChangeThreads (removed), like a deletion made in another window. */
  async deleteThread(thread: vscode.CommentThread): Promise<void> {
    const e = this.entryOf(thread);
    if (!e) {
      return;
    }
    const answer = await vscode.window.showWarningMessage(
      'Delete this thread and all its comments for everyone?', { modal: true }, 'Delete Thread');
    if (answer !== 'Delete Thread') {
      return;
    }
    try {
      const params: ThreadIdParams = { thread_id: e.local.thread.id };
      await this.ctx.request(lsp.deleteThread, params);
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: could not delete the thread: ${describeError(err)}`);
    }
  }

  private async react(comment: vscode.Comment, reaction: vscode.CommentReaction): Promise<void> {
    if (!(comment instanceof EnsembleComment) || comment.pending) {
      return;
    }
    const e = this.entryOf(comment.parent);
    const me = this.viewer().me;
    try {
      const params: ReactParams = { target_id: comment.id, emoji: reaction.label };
      await this.ctx.request(lsp.react, params);
    } catch (err) {
      void vscode.window.showErrorMessage(`Ensemble: ${humanError(err, lsp.react)}`);
      return;
    }
    if (e && me) {
      this.patchComment(e, comment.id, (c) => {
        const reactions = { ...(c.reactions ?? {}) };
        const users = reactions[reaction.label] ?? [];
        reactions[reaction.label] = users.includes(me) ? users.filter((u) => u !== me) : [...users, me];
        return { ...c, reactions };
      });
    }
  }

  /** Local, optimistic change of one comment until the daemon's update arrives. */
  private patchComment(e: Entry, commentId: string, change: (c: Comment) => Comment): void {
    const comments = e.local.thread.comments.map((c) => (c.id === commentId ? change(c) : c));
    e.local = { ...e.local, thread: { ...e.local.thread, comments } };
    e.replies = e.replies.map((c) => (c.id === commentId ? change(c) : c));
    this.render(e);
  }

  private entryOf(thread: vscode.CommentThread): Entry | undefined {
    for (const e of this.entries.values()) {
      if (e.thread === thread) {
        return e;
      }
    }
    return undefined;
  }

  /** Opens the file of a thread and expands the thread (mention "Show"). */
  async show(threadId: string): Promise<boolean> {
    if (!this.entries.has(threadId)) {
      await this.load();
    }
    const e = this.entries.get(threadId);
    if (!e) {
      void vscode.window.showWarningMessage('Ensemble: that comment thread is not available in this workspace.');
      return false;
    }
    const doc = await vscode.workspace.openTextDocument(e.thread.uri);
    const range = this.rangeOf(e.local, e.thread.uri);
    const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Selection(range.start, range.start) });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    e.thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    return true;
  }

  /** Threads currently shown (for tests and the export fallback). */
  get threadCount(): number {
    return this.entries.size;
  }

  dispose(): void {
    this.clear();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
