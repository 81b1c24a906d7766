import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import * as lsp from './protocol';

/** Not connected to the relay although signed in (offline or retrying). */
export function disconnected(ctx: Ctx): boolean {
  const state = ctx.state.connection.state;
  return ctx.state.daemon === 'running' && (state === 'offline' || state === 'connecting');
}

/** Ensemble: Reconnect Now. Ends the daemon's backoff wait: it tries the relay at once. */
export async function reconnectNow(ctx: Ctx): Promise<void> {
  if (!ctx.signedIn) {
    void vscode.window.showInformationMessage('Ensemble: sign in first.');
    return;
  }
  await ctx.start();
  ctx.notify(lsp.reconnect, {});
}

/** Seconds until the daemon's next reconnect attempt, or undefined. */
function retryIn(ctx: Ctx): number | undefined {
  const at = ctx.state.connection.next_retry_at;
  if (ctx.state.connection.state !== 'offline' || !at) {
    return undefined;
  }
  return Math.max(0, Math.ceil(at - Date.now() / 1000));
}

/** The people in the session who are online, me included. */
export function onlineCount(ctx: Ctx): number {
  if (!ctx.state.session) {
    return 0;
  }
  return 1 + ctx.state.peers.filter((p) => p.online).length;
}

/** The "Ensemble" status bar item: connection state and participant count; click for actions. */
export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('ensemble.status', vscode.StatusBarAlignment.Left, 50);
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.item.name = 'Ensemble';
    this.item.command = 'ensemble.showActions';
    this.subscriptions.push(
      ctx.onDidChangeState(() => this.render()),
      ctx.tokens.onDidChange(() => this.render()),
      // back at the window after a while (a laptop woke up, a network came back): try now
      vscode.window.onDidChangeWindowState((w) => {
        if (w.focused && disconnected(ctx)) {
          ctx.notify(lsp.reconnect, {});
        }
      }),
    );
    this.render();
    this.item.show();
  }

  render(): void {
    const { ctx, item } = this;
    const conn = ctx.state.connection;
    const session = ctx.state.session;
    let text: string;
    let tooltip: string;
    let warning = false;
    const wait = retryIn(ctx);
    if (ctx.state.daemon === 'failed') {
      text = '$(error) Ensemble';
      tooltip = 'Ensemble: the background service is not running. Click for actions.';
      warning = true;
    } else if (!ctx.signedIn) {
      text = '$(account) Ensemble: Sign In';
      tooltip = 'Ensemble: signed out. Click to sign in or sign up.';
    } else if (ctx.state.daemon !== 'running') {
      text = '$(circle-outline) Ensemble';
      tooltip = 'Ensemble: not connected. Click for actions.';
    } else if (conn.state === 'connecting') {
      text = '$(sync~spin) Ensemble: connecting';
      tooltip = `Ensemble: connecting to ${conn.relay_url}`;
    } else if (conn.state === 'offline') {
      text = wait !== undefined ? `$(debug-disconnect) Ensemble: reconnecting in ${wait}s` : '$(debug-disconnect) Ensemble: offline';
      tooltip = `Ensemble: offline from ${conn.relay_url}${conn.detail ? ` (${conn.detail})` : ''}. Click to reconnect now.`;
      warning = true;
    } else if (conn.state === 'signed_out') {
      text = '$(account) Ensemble: Sign In';
      tooltip = `Ensemble: signed out of ${conn.relay_url}`;
    } else if (session) {
      const n = onlineCount(ctx);
      text = `$(broadcast) Ensemble: ${n} ${n === 1 ? 'participant' : 'participants'}`;
      tooltip = `Ensemble: online in "${session.session.name}" at ${conn.relay_url} as ${session.you.role}; ${n} online`;
    } else {
      text = '$(broadcast) Ensemble: online';
      tooltip = `Ensemble: online at ${conn.relay_url} as ${conn.user?.name ?? ctx.tokens.current?.user.name ?? '?'}; no session`;
    }
    if (ctx.state.outbox > 0) {
      tooltip += ` · ${ctx.state.outbox} pending`;
    }
    item.text = text;
    item.tooltip = tooltip;
    item.backgroundColor = warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.tick(wait !== undefined);
  }

  /** Re-renders every second while a reconnect countdown shows. */
  private tick(on: boolean): void {
    if (on && !this.timer) {
      this.timer = setInterval(() => this.render(), 1000);
    } else if (!on && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  dispose(): void {
    this.tick(false);
    this.item.dispose();
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}

interface Action extends vscode.QuickPickItem {
  command: string;
}

/** The quick pick behind the status bar item: the actions that make sense now. */
export async function showActions(ctx: Ctx): Promise<void> {
  const a = (label: string, command: string, detail?: string): Action => ({ label, command, detail });
  const items: Action[] = [];
  if (ctx.signedIn && disconnected(ctx)) {
    items.push(a('$(debug-disconnect) Reconnect Now', 'ensemble.reconnect', 'Try the relay now instead of waiting'));
  }
  if (!ctx.signedIn) {
    items.push(a('$(sign-in) Sign In', 'ensemble.signIn'), a('$(person-add) Sign Up', 'ensemble.signUp'));
  } else if (!ctx.inSession) {
    items.push(a('$(add) Start Session', 'ensemble.startSession'), a('$(link) Join Session', 'ensemble.joinSession'));
  } else {
    if (ctx.isHost) {
      items.push(a('$(link) Copy Invite Link', 'ensemble.copyInvite'));
    }
    items.push(
      a('$(organization) Show Participants', 'ensemble.showParticipants'),
      a('$(eye) Follow Participant', 'ensemble.follow'),
      a('$(location) Jump to Participant', 'ensemble.jumpTo'),
      a('$(pulse) Set Status', 'ensemble.setStatus'),
    );
    if (ctx.state.following) {
      items.push(a('$(eye-closed) Stop Following', 'ensemble.stopFollowing'));
    }
    items.push(a('$(sign-out) Leave Session', 'ensemble.leaveSession'));
    if (ctx.isHost) {
      items.push(a('$(close) End Session', 'ensemble.endSession'));
    }
  }
  if (ctx.signedIn) {
    items.push(a('$(sign-out) Sign Out', 'ensemble.signOut'));
  }
  items.push(a('$(output) Show Log', 'ensemble.showLog'), a('$(debug-restart) Restart Background Service', 'ensemble.restartDaemon'));
  const pick = await vscode.window.showQuickPick(items, { title: 'Ensemble' });
  if (pick) {
    await vscode.commands.executeCommand(pick.command);
  }
}
