import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import * as lsp from '../protocol';
import { mentionQuery } from '../chat/markdown';
import { snippet } from './model';

export interface MentionTargets {
  showThread(threadId: string): Promise<unknown>;
  showMessage(messageId: string): void;
}

/** People one may mention: everyone in the session but oneself. */
function mentionable(ctx: Ctx): { id: string; name: string; online: boolean }[] {
  const me = ctx.me;
  const people = new Map<string, { id: string; name: string; online: boolean }>();
  for (const p of ctx.state.session?.participants ?? []) {
    people.set(p.user.id, { id: p.user.id, name: p.user.name, online: p.online });
  }
  for (const p of ctx.state.peers) {
    people.set(p.user.id, { id: p.user.id, name: p.user.name, online: p.online });
  }
  if (me) {
    people.delete(me);
  }
  return [...people.values()];
}

/** `@` completion of participant names in comment input boxes (document scheme "comment"). */
export function registerMentionCompletion(ctx: Ctx): vscode.Disposable {
  return vscode.languages.registerCompletionItemProvider(
    { scheme: 'comment' },
    {
      provideCompletionItems(doc, position) {
        const prefix = doc.lineAt(position.line).text.slice(0, position.character);
        const q = mentionQuery(prefix);
        if (!q || !ctx.inSession) {
          return undefined;
        }
        const range = new vscode.Range(position.line, q.start, position.line, position.character);
        return mentionable(ctx).map((p, i) => {
          const item = new vscode.CompletionItem({ label: `@${p.id}`, description: p.name }, vscode.CompletionItemKind.User);
          item.insertText = `@${p.id} `;
          item.filterText = `@${p.id} ${p.name}`;
          item.range = range;
          item.detail = p.online ? 'online' : 'offline';
          item.sortText = `${p.online ? 0 : 1}${String(i).padStart(3, '0')}`;
          return item;
        });
      },
    },
    '@',
  );
}

/** Mentions of me (live, or delivered on join for those made while I was offline). */
export function registerMentionNotifications(ctx: Ctx, targets: MentionTargets): vscode.Disposable {
  const seen = new Set<string>();
  return ctx.onNotification(lsp.didReceiveMention, (p) => {
    const m = p.mention;
    const key = `${m.session_id}:${m.seq}`;
    if (seen.has(key)) {
      return;
    }
    seen.add(key);
    const where = m.thread_id ? 'in a comment' : m.message_id ? 'in chat' : '';
    const text = `${m.by.name || m.by.id} mentioned you ${where}: ${snippet(m.text)}`;
    ctx.log(`mention from ${m.by.id} (${where || 'session'})`);
    if (!vscode.workspace.getConfiguration('ensemble').get<boolean>('mentions.notify', true)) {
      return;
    }
    void vscode.window.showInformationMessage(text, 'Show').then((choice) => {
      if (choice !== 'Show') {
        return;
      }
      if (m.thread_id) {
        void targets.showThread(m.thread_id);
      } else if (m.message_id) {
        targets.showMessage(m.message_id);
      }
    });
  });
}
