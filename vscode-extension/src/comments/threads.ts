import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { describeError } from '../errors';
import * as lsp from '../protocol';
import { shareable } from '../tracking';
import type { ErrorParams, ThreadsChangedParams } from '../collab-protocol';
import { CommentActions } from './actions';
import { ThreadMirror } from './mirror';
import { Viewer, mayComment } from './model';
import { refusedCommentAction } from './rollback';

export { EnsembleComment } from './render';

/**
 * The session's comment threads in the editor gutter, through one
 * CommentController. The daemon owns the data and the anchoring; this class
 * follows the session and the daemon's updates into the mirror (mirror.ts), and
 * `actions` sends the user's actions back (actions.ts).
 */
export class ThreadManager implements vscode.Disposable {
  readonly controller: vscode.CommentController;
  readonly actions: CommentActions;
  private readonly mirror: ThreadMirror;
  private sessionId: string | null = null;
  private allowed = false;
  private rangesInSession = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.controller = vscode.comments.createCommentController('ensemble', 'Ensemble');
    this.mirror = new ThreadMirror(this.controller, () => this.viewer());
    this.actions = new CommentActions(ctx, this.mirror, () => this.viewer(), () => this.sessionId);
    // set once and before reactionHandler: VS Code keeps only the controller feature set last
    // (options or reactions), and reactions must work
    this.controller.options = {
      prompt: 'Add an Ensemble comment…',
      placeHolder: 'Markdown; type @ to mention a participant',
    };
    this.controller.reactionHandler = (comment, reaction) => this.actions.react(comment, reaction);
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
      this.mirror.clear();
      if (id) {
        void this.load();
      }
    } else {
      for (const e of this.mirror.all()) {
        this.mirror.render(e); // the role may have changed
      }
    }
  }

  // ----- data from the daemon -------------------------------------------------------

  /** Loads every thread of the session (and earlier sessions on this repository). */
  async load(): Promise<void> {
    const session = this.sessionId;
    try {
      const res = await this.ctx.request(lsp.threads, { uri: null });
      if (session !== this.sessionId) {
        return;
      }
      const seen = new Set<string>();
      for (const lt of res.threads) {
        seen.add(lt.thread.id);
        this.mirror.upsert(lt);
      }
      for (const e of [...this.mirror.all()]) {
        const id = e.local.thread.id;
        if (!seen.has(id) && !e.pending) {
          this.mirror.remove(id);
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
    if (this.mirror.get(id)?.pending) {
      this.mirror.remove(id);
    }
    for (const e of this.mirror.all()) {
      if (e.replies.some((c) => c.id === id)) {
        e.replies = e.replies.filter((c) => c.id !== id);
        this.mirror.render(e);
      }
    }
  }

  private onChanged(p: ThreadsChangedParams): void {
    for (const lt of p.threads) {
      this.mirror.upsert(lt);
    }
    for (const id of p.removed ?? []) {
      this.mirror.remove(id);
    }
  }

  // ----- showing a thread ---------------------------------------------------------------

  /** Opens the file of a thread and expands the thread (mention "Show"). */
  async show(threadId: string): Promise<boolean> {
    if (!this.mirror.has(threadId)) {
      await this.load();
    }
    const e = this.mirror.get(threadId);
    if (!e) {
      void vscode.window.showWarningMessage('Ensemble: that comment thread is not available in this workspace.');
      return false;
    }
    const doc = await vscode.workspace.openTextDocument(e.thread.uri);
    const range = this.mirror.rangeOf(e.local, e.thread.uri);
    const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Selection(range.start, range.start) });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    e.thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    return true;
  }

  /** Threads currently shown (for tests and the export fallback). */
  get threadCount(): number {
    return this.mirror.size;
  }

  dispose(): void {
    this.mirror.clear();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
