import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { humanMessage } from './human';
import * as lsp from './protocol';

const ERROR_REPEAT_MS = 10000;

/** User-facing messages driven by daemon notifications. */
export function registerNotices(ctx: Ctx): vscode.Disposable {
  const warnedMismatch = new Set<string>();
  const lastShown = new Map<string, number>();
  let hadSession = false;
  return vscode.Disposable.from(
    ctx.onNotification(lsp.didChangeSession, (p) => {
      const view = p.session;
      if (view) {
        hadSession = true;
        if (view.repo_mismatch && !warnedMismatch.has(view.session.session_id)) {
          warnedMismatch.add(view.session.session_id);
          const repo = view.session.repo.remote ?? view.session.repo.name ?? 'another repository';
          void vscode.window.showWarningMessage(
            `Ensemble: this session is on ${repo}, which differs from your workspace. Cursors may be approximate and comments may not line up.`,
          );
        }
      } else if (hadSession) {
        hadSession = false;
        void vscode.window.showInformationMessage(`Ensemble: you are no longer in the session${p.reason ? ` (${p.reason})` : ''}.`);
      }
    }),
    ctx.onNotification(lsp.didError, (p) => {
      const now = Date.now();
      // a refused action of the user's (it has an id) is always told; repeats of others are not
      if (!p.id && now - (lastShown.get(p.code) ?? 0) < ERROR_REPEAT_MS) {
        return;
      }
      lastShown.set(p.code, now);
      ctx.log(`daemon error ${p.code}${p.method ? ` in ${p.method}` : ''}${p.id ? ` (${p.id})` : ''}: ${p.message}`);
      void vscode.window.showWarningMessage(`Ensemble: ${humanMessage(p.code, p.method, p.message)}`);
    }),
    ctx.onNotification(lsp.didChangeConnection, (p) => {
      // A token the relay refuses is forgotten so the user is asked to sign in again.
      if (p.state === 'signed_out' && ctx.signedIn && p.detail && /expired|unauthori[sz]ed|invalid/i.test(p.detail)) {
        void ctx.tokens.clear();
        void vscode.window
          .showWarningMessage(`Ensemble: your sign-in is no longer valid (${p.detail}).`, 'Sign In')
          .then((c) => (c ? vscode.commands.executeCommand('ensemble.signIn') : undefined));
      }
    }),
  );
}
