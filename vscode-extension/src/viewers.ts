import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { uriKey } from './cursors';
import { describeError } from './errors';
import * as lsp from './protocol';
import type { UserRef } from './protocol';

/** Peers whose focused file (or cursor) is `uri`, from the live peer state. */
export function localViewers(ctx: Ctx, uri: vscode.Uri): UserRef[] {
  const key = uriKey(uri);
  return ctx.state.peers
    .filter((p) => p.online && ((p.focus_uri && uriKey(p.focus_uri) === key) || (p.uri && uriKey(p.uri) === key)))
    .map((p) => p.user);
}

/** Status bar entry "who is viewing this file" for the active editor. */
export class ViewersItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('ensemble.viewers', vscode.StatusBarAlignment.Right, 200);
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.item.name = 'Ensemble Viewers';
    this.item.command = 'ensemble.whoIsViewing';
    this.subscriptions.push(
      this.item,
      ctx.onDidChangeState((what) => {
        if (what === 'peers' || what === 'session') {
          this.render();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
    );
    this.render();
  }

  private render(): void {
    const editor = vscode.window.activeTextEditor;
    const users = editor && this.ctx.inSession ? localViewers(this.ctx, editor.document.uri) : [];
    if (users.length === 0) {
      this.item.hide();
      return;
    }
    this.item.text = `$(eye) ${users.length}`;
    this.item.tooltip = `Ensemble: also viewing this file: ${users.map((u) => u.name).join(', ')}`;
    this.item.show();
  }

  dispose(): void {
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}

/** Ensemble: Who Is Viewing This File. Returns the viewers' display names. */
export async function whoIsViewing(ctx: Ctx, arg?: unknown): Promise<string[]> {
  const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (!uri) {
    return [];
  }
  let users: UserRef[];
  try {
    users = (await ctx.request(lsp.whoIsViewing, { uri: uri.toString() })).users;
  } catch (err) {
    ctx.log(`whoIsViewing failed, using local state: ${describeError(err)}`);
    users = localViewers(ctx, uri);
  }
  const me = ctx.me;
  users = users.filter((u) => u.id !== me);
  const file = vscode.workspace.asRelativePath(uri);
  if (users.length === 0) {
    void vscode.window.showInformationMessage(`Ensemble: nobody else is viewing ${file}.`);
    return [];
  }
  const pick = await vscode.window.showQuickPick(
    users.map((u) => ({ label: u.name, description: u.id, userId: u.id })),
    { title: `Ensemble: viewing ${file}`, placeHolder: 'Pick someone to jump to their position' },
  );
  if (pick) {
    await vscode.commands.executeCommand('ensemble.jumpTo', pick.userId);
  }
  return users.map((u) => u.name);
}
