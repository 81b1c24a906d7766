import * as vscode from 'vscode';
import { chatController } from './chat';
import type { Ctx } from './ctx';
import { describeError } from './errors';
import * as lsp from './protocol';
import type { ExportParams } from './collab-protocol';
import { registerMentionCompletion, registerMentionNotifications } from './comments/mentions';
import { EnsembleComment, ThreadManager } from './comments/threads';

export { ThreadManager } from './comments/threads';

/** Comment threads in the gutter, @mention completion and notifications, export. */
export function registerComments(ctx: Ctx): ThreadManager {
  const threads = new ThreadManager(ctx);
  const asComment = (c: unknown): EnsembleComment | undefined => (c instanceof EnsembleComment ? c : undefined);
  const cmd = (id: string, fn: (...args: never[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, fn as (...args: unknown[]) => unknown);
  ctx.extension.subscriptions.push(
    threads,
    registerMentionCompletion(ctx),
    registerMentionNotifications(ctx, {
      showThread: (id) => threads.show(id),
      showMessage: (id) => {
        const chat = chatController();
        if (chat) {
          chat.reveal(id);
        }
      },
    }),
    cmd('ensemble.comments.create', (reply: vscode.CommentReply) => threads.actions.createThread(reply)),
    cmd('ensemble.comments.reply', (reply: vscode.CommentReply) => threads.actions.reply(reply)),
    cmd('ensemble.comments.cancelNew', (reply: vscode.CommentReply | vscode.CommentThread) => {
      const thread = 'thread' in reply ? reply.thread : reply;
      thread.dispose();
    }),
    cmd('ensemble.comments.edit', (c: unknown) => {
      const comment = asComment(c);
      if (comment) {threads.actions.startEdit(comment);}
    }),
    cmd('ensemble.comments.saveEdit', (c: unknown) => {
      const comment = asComment(c);
      return comment ? threads.actions.saveEdit(comment) : undefined;
    }),
    cmd('ensemble.comments.cancelEdit', (c: unknown) => {
      const comment = asComment(c);
      if (comment) {threads.actions.cancelEdit(comment);}
    }),
    cmd('ensemble.comments.delete', (c: unknown) => {
      const comment = asComment(c);
      return comment ? threads.actions.deleteComment(comment) : undefined;
    }),
    cmd('ensemble.comments.resolve', (t: vscode.CommentThread) => threads.actions.resolve(t, true)),
    cmd('ensemble.comments.reopen', (t: vscode.CommentThread) => threads.actions.resolve(t, false)),
    cmd('ensemble.comments.deleteThread', (t: vscode.CommentThread) => threads.actions.deleteThread(t)),
    cmd('ensemble.comments.show', (threadId: string) => threads.show(threadId)),
    cmd('ensemble.comments.reload', () => threads.load()),
    cmd('ensemble.exportComments', () => exportComments(ctx)),
  );
  return threads;
}

/** Writes the session's threads to a Markdown file the user picks, then opens it. */
async function exportComments(ctx: Ctx): Promise<void> {
  if (!ctx.inSession) {
    void vscode.window.showInformationMessage('Ensemble: join or start a session to export its comments.');
    return;
  }
  try {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      title: 'Ensemble: export comment threads',
      defaultUri: folder ? vscode.Uri.joinPath(folder, 'ensemble-comments.md') : undefined,
      filters: { Markdown: ['md'] },
    });
    if (!target) {
      return;
    }
    const params: ExportParams = { format: 'markdown' };
    const res = await ctx.request(lsp.export_, params);
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(res.content));
    await vscode.window.showTextDocument(target);
  } catch (err) {
    void vscode.window.showErrorMessage(`Ensemble: could not export the comments: ${describeError(err)}`);
  }
}
