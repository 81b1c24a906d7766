import * as vscode from 'vscode';
import type { Ctx } from './ctx';

/**
 * Context keys for when-clauses: ensemble.signedIn, ensemble.inSession,
 * ensemble.isHost, ensemble.role, ensemble.connection, ensemble.daemon
 * (ensemble.following and ensemble.canResumeFollow are kept by follow.ts).
 */
export function registerContextKeys(ctx: Ctx): vscode.Disposable {
  const current = new Map<string, unknown>();
  const set = (key: string, value: unknown): void => {
    if (current.get(key) !== value) {
      current.set(key, value);
      void vscode.commands.executeCommand('setContext', key, value);
    }
  };
  const update = (): void => {
    set('ensemble.signedIn', ctx.signedIn);
    set('ensemble.inSession', ctx.inSession);
    set('ensemble.isHost', ctx.isHost);
    set('ensemble.role', ctx.state.session?.you.role ?? '');
    set('ensemble.connection', ctx.state.daemon === 'running' ? ctx.state.connection.state : 'stopped');
    set('ensemble.daemon', ctx.state.daemon);
  };
  update();
  return vscode.Disposable.from(ctx.onDidChangeState(update), ctx.tokens.onDidChange(update));
}
