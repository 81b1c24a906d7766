import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { showError } from './errors';
import { pickPeer, userIdOf } from './participants';
import * as lsp from './protocol';
import type { InviteRole } from './protocol';

/** Ensemble: Change Role (host). Arguments: a row or user id, and optionally the role. */
export async function changeRole(ctx: Ctx, arg?: unknown, roleArg?: InviteRole): Promise<void> {
  const userId = userIdOf(arg) ?? (await pickPeer(ctx, 'Ensemble: change whose role?', (n) => n.role !== 'host'));
  if (!userId) {
    return;
  }
  let role = roleArg;
  if (!role) {
    const current = ctx.peer(userId)?.role;
    const pick = await vscode.window.showQuickPick(
      (['editor', 'viewer'] as const).map((r) => ({
        label: r === 'editor' ? 'Editor' : 'Viewer',
        description: r === current ? 'current' : undefined,
        role: r,
      })),
      { title: `Ensemble: role of ${ctx.peer(userId)?.user.name ?? userId}` },
    );
    role = pick?.role;
  }
  if (!role) {
    return;
  }
  try {
    await ctx.request(lsp.setRole, { user_id: userId, role });
  } catch (err) {
    showError(`could not change the role`, err);
  }
}

/** Ensemble: Remove Participant (host). */
export async function removeParticipant(ctx: Ctx, arg?: unknown, confirmed = false): Promise<void> {
  const userId = userIdOf(arg) ?? (await pickPeer(ctx, 'Ensemble: remove whom?', (n) => n.role !== 'host'));
  if (!userId) {
    return;
  }
  const name = ctx.peer(userId)?.user.name ?? userId;
  if (!confirmed) {
    const choice = await vscode.window.showWarningMessage(`Remove ${name} from the session?`, { modal: true }, 'Remove');
    if (choice !== 'Remove') {
      return;
    }
  }
  try {
    await ctx.request(lsp.removeParticipant, { user_id: userId });
  } catch (err) {
    showError(`could not remove ${name}`, err);
  }
}
