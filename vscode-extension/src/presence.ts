import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { showError } from './errors';
import * as lsp from './protocol';
import type { Status } from './protocol';

const ACTIVITY_INTERVAL_MS = 5000;

/**
 * Reports local activity (typing, moving, focusing the window) to the daemon,
 * at most every few seconds; the daemon turns silence into idle and away.
 */
export class ActivityReporter implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  private last = 0;

  constructor(private readonly ctx: Ctx) {
    const ping = (): void => this.ping();
    this.subscriptions.push(
      vscode.window.onDidChangeTextEditorSelection(ping),
      vscode.window.onDidChangeTextEditorVisibleRanges(ping),
      vscode.window.onDidChangeActiveTextEditor(ping),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) {
          ping();
        }
      }),
      vscode.window.onDidChangeWindowState((s) => {
        if (s.focused) {
          ping();
        }
      }),
    );
  }

  private ping(): void {
    const now = Date.now();
    if (!this.ctx.inSession || now - this.last < ACTIVITY_INTERVAL_MS) {
      return;
    }
    this.last = now;
    this.ctx.notify(lsp.activity, {});
  }

  dispose(): void {
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}

const STATUSES: { status: Status; label: string; description: string; iconPath: vscode.ThemeIcon }[] = [
  { status: 'active', label: 'Active', description: 'working here', iconPath: new vscode.ThemeIcon('circle-filled') },
  { status: 'idle', label: 'Idle', description: 'around, not typing', iconPath: new vscode.ThemeIcon('clock') },
  { status: 'away', label: 'Away', description: 'not at the keyboard', iconPath: new vscode.ThemeIcon('circle-slash') },
];

/** Ensemble: Set Status. Accepts a status argument to skip the quick pick. */
export async function setStatus(ctx: Ctx, arg?: unknown): Promise<void> {
  let status = STATUSES.find((s) => s.status === arg)?.status;
  if (!status) {
    const pick = await vscode.window.showQuickPick(STATUSES, { title: 'Ensemble: set your status' });
    status = pick?.status;
  }
  if (!status) {
    return;
  }
  try {
    await ctx.request(lsp.setStatus, { status });
    ctx.setMyStatus(status);
  } catch (err) {
    showError(`could not set the status`, err);
  }
}
