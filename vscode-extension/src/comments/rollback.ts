import * as vscode from 'vscode';
import type { ErrorParams } from '../collab-protocol';
import * as lsp from '../protocol';

/** The comment actions whose refusal the thread manager rolls back. */
const COMMENT_METHODS = new Set<string>(
  [lsp.createThread, lsp.reply, lsp.editComment, lsp.deleteComment, lsp.resolveThread, lsp.react].map((t) => t.method),
);

/** After a Resolve from here, how long to wait for VS Code's collapse to come back. */
export const COLLAPSE_WAIT_MS = 5000;

/** The id of a refused comment action (its Queued id), or undefined for anything else. */
export function refusedCommentAction(p: ErrorParams): string | undefined {
  return p.id && p.method && COMMENT_METHODS.has(p.method) ? p.id : undefined;
}

/**
 * A thread resolved from this window becomes resolved in VS Code with Reopen in sight.
 *
 * VS Code collapses an expanded thread when its state turns resolved (`comments.collapseOnResolve`),
 * once that update is drawn, which can be late on a busy machine; it then tells the extension
 * host, whose `collapsibleState` follows. So the expanded state the window shows is stated
 * with the resolved state (the extension host may believe otherwise), the collapse is awaited
 * as a change of `collapsibleState`, and the widget is expanded once, after it. An expand sent
 * after a fixed delay instead can arrive before the collapse is drawn, or be overwritten by
 * its echo, and be undone. Call in the same tick as setting `state`.
 */
export function showResolved(thread: vscode.CommentThread, stillWanted: () => boolean): void {
  if (vscode.workspace.getConfiguration('comments').get<boolean>('collapseOnResolve') === false) {
    return;
  }
  thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
  const deadline = Date.now() + COLLAPSE_WAIT_MS;
  const poll = setInterval(() => {
    if (!stillWanted() || Date.now() > deadline) {
      clearInterval(poll);
    } else if (thread.collapsibleState === vscode.CommentThreadCollapsibleState.Collapsed) {
      clearInterval(poll);
      thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    }
  }, 50);
}
