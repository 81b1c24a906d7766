import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { uriKey } from './cursors';
import { describeError } from './errors';
import type { RevealGuard } from './guard';
import { pickPeer, userIdOf } from './participants';
import * as lsp from './protocol';
import type { PeerView } from './protocol';

/** The file a peer is in: their cursor's file, else their focused file. */
function peerUri(peer: PeerView): vscode.Uri | undefined {
  const uri = peer.uri ?? peer.focus_uri;
  return uri ? vscode.Uri.parse(uri) : undefined;
}

/** Opens (or reuses) an editor showing `uri`. */
async function editorFor(uri: vscode.Uri): Promise<vscode.TextEditor> {
  const active = vscode.window.activeTextEditor;
  if (active && uriKey(active.document.uri) === uriKey(uri)) {
    return active;
  }
  const doc = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(doc, { preview: true, preserveFocus: false });
}

/**
 * Follow: keeps my editor on a peer's file and viewport until I type or move on
 * my own; then a status bar hint offers to resume. Jump: the one-shot version.
 */
export class FollowController implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('ensemble.follow', vscode.StatusBarAlignment.Left, 49);
  private readonly subscriptions: vscode.Disposable[] = [];
  private resumable: string | undefined;
  private lastTopLine: number | undefined;
  private lastRevealed: string | undefined;
  private revealing: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: Ctx, private readonly guard: RevealGuard) {
    this.item.name = 'Ensemble Follow';
    this.subscriptions.push(
      this.item,
      ctx.onDidChangeState((what) => this.onState(what)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const k = e.kind;
        if (k === vscode.TextEditorSelectionChangeKind.Keyboard || k === vscode.TextEditorSelectionChangeKind.Mouse) {
          this.userMoved('moved the cursor', true);
        }
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 && e.document === vscode.window.activeTextEditor?.document) {
          this.userMoved('typed', true);
        }
      }),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => {
        const top = e.visibleRanges[0]?.start.line;
        if (
          e.textEditor === vscode.window.activeTextEditor &&
          !this.guard.active &&
          this.lastTopLine !== undefined &&
          top !== undefined &&
          Math.abs(top - this.lastTopLine) > 1
        ) {
          this.userMoved('scrolled');
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor && !this.guard.active) {
          this.userMoved('switched files');
        }
      }),
    );
    this.render();
  }

  get following(): string | null {
    return this.ctx.state.following;
  }

  /** Ensemble: Follow Participant. */
  async follow(arg?: unknown): Promise<void> {
    const userId = userIdOf(arg) ?? (await pickPeer(this.ctx, 'Ensemble: follow whom?', (n) => n.status !== 'offline'));
    if (!userId) {
      return;
    }
    this.resumable = undefined;
    this.lastRevealed = undefined;
    this.ctx.setFollowing(userId);
    try {
      await this.ctx.request(lsp.follow, { user_id: userId });
    } catch (err) {
      this.ctx.log(`follow request failed: ${describeError(err)}`);
    }
    await this.reveal();
  }

  /** Ensemble: Stop Following. */
  async stop(): Promise<void> {
    this.resumable = undefined;
    await this.unfollow();
  }

  /** Ensemble: Resume Following (after my own move stopped it). */
  async resume(): Promise<void> {
    const target = this.resumable;
    if (target && this.ctx.peer(target)?.online) {
      await this.follow(target);
    } else {
      this.resumable = undefined;
      this.render();
    }
  }

  /** Ensemble: Jump to Participant (one-shot: their file, my caret at theirs). */
  async jumpTo(arg?: unknown): Promise<void> {
    const userId = userIdOf(arg) ?? (await pickPeer(this.ctx, 'Ensemble: jump to whom?', (n) => n.status !== 'offline'));
    const peer = userId ? this.ctx.peer(userId) : undefined;
    const uri = peer && peerUri(peer);
    if (!peer || !uri) {
      if (userId) {
        void vscode.window.showInformationMessage(`Ensemble: ${peer?.user.name ?? userId} is not in a shared file right now.`);
      }
      return;
    }
    if (this.following) {
      await this.stop();
    }
    const editor = await editorFor(uri);
    const sel = peer.uri && peer.selections?.[0];
    if (sel) {
      const pos = editor.document.validatePosition(new vscode.Position(sel.active.line, sel.active.character));
      editor.selection = new vscode.Selection(pos, pos);
      editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
  }

  private async unfollow(): Promise<void> {
    if (!this.following) {
      this.render();
      return;
    }
    this.ctx.setFollowing(null);
    try {
      await this.ctx.request(lsp.follow, { user_id: null });
    } catch (err) {
      this.ctx.log(`unfollow request failed: ${describeError(err)}`);
    }
  }

  /** `certain`: keyboard, mouse or typing, never caused by our reveal. */
  private userMoved(what: string, certain = false): void {
    if (!this.following || (!certain && this.guard.active)) {
      return;
    }
    this.resumable = this.following;
    this.ctx.log(`stopped following: you ${what}`);
    void this.unfollow();
  }

  private onState(what: string): void {
    if (what === 'follow' || what === 'session') {
      if (!this.ctx.inSession) {
        this.resumable = undefined;
      }
      this.render();
    }
    if (what === 'peers' && this.following) {
      const peer = this.ctx.peer(this.following);
      if (!peer || !peer.online) {
        const name = peer?.user.name ?? this.following;
        void this.stop();
        void vscode.window.showInformationMessage(`Ensemble: stopped following ${name}, who left.`);
        return;
      }
      void this.reveal();
    }
  }

  /** Brings my editor to the followed peer's file and viewport (serialized). */
  private reveal(): Promise<void> {
    this.revealing = this.revealing.then(() => this.revealNow()).catch((err: unknown) => {
      this.ctx.log(`follow reveal failed: ${describeError(err)}`);
    });
    return this.revealing;
  }

  private async revealNow(): Promise<void> {
    const target = this.following;
    const peer = target ? this.ctx.peer(target) : undefined;
    const uri = peer && peerUri(peer);
    if (!peer || !uri) {
      return;
    }
    // Only the followed peer's file and viewport matter; skip updates that change neither.
    const key = JSON.stringify([target, uri.toString(), peer.visible?.[0]?.start.line, peer.selections?.[0]?.active]);
    const active = vscode.window.activeTextEditor;
    if (key === this.lastRevealed && active && uriKey(active.document.uri) === uriKey(uri)) {
      return;
    }
    this.lastRevealed = key;
    await this.guard.run(async () => {
      const editor = await editorFor(uri);
      const visible = peer.visible?.[0];
      const sel = peer.selections?.[0];
      if (visible) {
        const top = editor.document.validatePosition(new vscode.Position(visible.start.line, 0));
        editor.revealRange(new vscode.Range(top, top), vscode.TextEditorRevealType.AtTop);
      } else if (sel) {
        const pos = editor.document.validatePosition(new vscode.Position(sel.active.line, sel.active.character));
        editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      }
      this.lastTopLine = editor.visibleRanges[0]?.start.line;
    });
  }

  private render(): void {
    const following = this.following ? this.ctx.peer(this.following) : undefined;
    const resumable = this.resumable ? this.ctx.peer(this.resumable) : undefined;
    void vscode.commands.executeCommand('setContext', 'ensemble.following', !!this.following);
    void vscode.commands.executeCommand('setContext', 'ensemble.canResumeFollow', !this.following && !!resumable);
    if (this.following) {
      this.item.text = `$(eye) Following ${following?.user.name ?? this.following}`;
      this.item.tooltip = 'Ensemble: typing or moving stops following. Click to stop now.';
      this.item.command = 'ensemble.stopFollowing';
      this.item.show();
    } else if (resumable) {
      this.item.text = `$(debug-restart) Resume following ${resumable.user.name}`;
      this.item.tooltip = 'Ensemble: following stopped because you moved. Click to follow again.';
      this.item.command = 'ensemble.resumeFollowing';
      this.item.show();
    } else {
      this.item.hide();
    }
  }

  dispose(): void {
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}
