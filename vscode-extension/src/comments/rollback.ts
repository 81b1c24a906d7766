import * as vscode from 'vscode';
import type { ErrorParams } from '../collab-protocol';
import * as lsp from '../protocol';

/** The comment actions whose refusal the thread manager rolls back. */
const COMMENT_METHODS = new Set<string>(
  [lsp.createThread, lsp.reply, lsp.editComment, lsp.deleteComment, lsp.resolveThread, lsp.react].map((t) => t.method),
);

/** After a Resolve from here, how long until the widget VS Code collapsed is opened again. */
export const KEEP_OPEN_MS = 300;

/** The id of a refused comment action (its Queued id), or undefined for anything else. */
export function refusedCommentAction(p: ErrorParams): string | undefined {
  return p.id && p.method && COMMENT_METHODS.has(p.method) ? p.id : undefined;
}

/**
 * Shows a thread widget VS Code collapsed on its own (it does so when a thread becomes
 * resolved). The state is set both ways so the expanded state is sent even when the
 * extension host believes it already is.
 */
export function reopenWidget(thread: vscode.CommentThread): void {
  thread.collapsibleState = vscode.CommentThreadCollapsibleState.Collapsed;
  thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
}
