import * as vscode from 'vscode';
import { Credentials, signIn, signOut, signUp } from './auth';
import type { Ctx } from './ctx';
import { describeError, showError } from './errors';
import type { FollowController } from './follow';
import { changeRole, removeParticipant } from './host';
import { setStatus } from './presence';
import type { InviteRole } from './protocol';
import { copyInvite, endSession, joinSession, leaveSession, startSession } from './session';
import { reconnectNow, showActions } from './status';
import { whoIsViewing } from './viewers';

/** Every command of package.json contributes.commands, wired to its feature module. */
export function registerCommands(ctx: Ctx, follow: FollowController): vscode.Disposable {
  const table: Record<string, (...args: unknown[]) => unknown> = {
    'ensemble.signIn': (creds?: unknown) => signIn(ctx, (creds as Credentials | undefined) ?? {}),
    'ensemble.signUp': (creds?: unknown) => signUp(ctx, (creds as Credentials | undefined) ?? {}),
    'ensemble.signOut': () => signOut(ctx),
    'ensemble.startSession': (name?: unknown) => startSession(ctx, typeof name === 'string' ? name : undefined),
    'ensemble.joinSession': (link?: unknown) => joinSession(ctx, typeof link === 'string' ? link : undefined),
    'ensemble.copyInvite': (role?: unknown) =>
      copyInvite(ctx, role === 'editor' || role === 'viewer' ? (role as InviteRole) : undefined),
    'ensemble.leaveSession': () => leaveSession(ctx),
    'ensemble.endSession': (confirmed?: unknown) => endSession(ctx, confirmed === true),
    'ensemble.showActions': () => showActions(ctx),
    'ensemble.reconnect': () => reconnectNow(ctx),
    'ensemble.showParticipants': () => vscode.commands.executeCommand('ensemble.participants.focus'),
    'ensemble.follow': (arg?: unknown) => follow.follow(arg),
    'ensemble.stopFollowing': () => follow.stop(),
    'ensemble.resumeFollowing': () => follow.resume(),
    'ensemble.jumpTo': (arg?: unknown) => follow.jumpTo(arg),
    'ensemble.changeRole': (arg?: unknown, role?: unknown) =>
      changeRole(ctx, arg, role === 'editor' || role === 'viewer' ? (role as InviteRole) : undefined),
    'ensemble.removeParticipant': (arg?: unknown, confirmed?: unknown) => removeParticipant(ctx, arg, confirmed === true),
    'ensemble.whoIsViewing': (arg?: unknown) => whoIsViewing(ctx, arg),
    'ensemble.setStatus': (status?: unknown) => setStatus(ctx, status),
    'ensemble.showLog': () => ctx.output.show(true),
    'ensemble.restartDaemon': () => ctx.daemon.restart(),
    // For tests and automation: the current state as plain data.
    'ensemble.internal.state': () => ({ ...ctx.state, signedIn: ctx.signedIn }),
  };
  return vscode.Disposable.from(
    ...Object.entries(table).map(([id, run]) =>
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await run(...args);
        } catch (err) {
          ctx.log(`${id} failed: ${describeError(err)}`);
          showError('the command failed', err);
          return undefined;
        }
      }),
    ),
  );
}
