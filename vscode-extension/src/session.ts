import * as path from 'node:path';
import * as vscode from 'vscode';
import { ensureSignedIn } from './auth';
import { relays, relayUrls, SECTION } from './config';
import type { Ctx } from './ctx';
import { describeError, showError } from './errors';
import * as lsp from './protocol';
import type { InviteRole, SessionView } from './protocol';
import { isConfiguredRelay } from './relays';

function progress<T>(title: string, task: () => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, task);
}

function defaultSessionName(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.basename(folder.uri.fsPath) : 'Session';
}

/** Ensemble: Start Session. Returns the session view, or undefined. */
export async function startSession(ctx: Ctx, name?: string): Promise<SessionView | undefined> {
  if (!(await ensureSignedIn(ctx))) {
    return undefined;
  }
  const chosen =
    name ??
    (await vscode.window.showInputBox({
      prompt: 'Session name',
      value: defaultSessionName(),
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'Give the session a name.'),
    }));
  if (!chosen?.trim()) {
    return undefined;
  }
  try {
    const view = await progress('Ensemble: starting session…', () =>
      ctx.request(lsp.createSession, { name: chosen.trim() }),
    );
    ctx.setSession(view);
    if (name === undefined) {
      void vscode.window
        .showInformationMessage(`Ensemble: session "${view.session.name}" started.`, 'Copy Invite Link')
        .then((choice) => (choice ? copyInvite(ctx) : undefined));
    }
    return view;
  } catch (err) {
    showError(`could not start the session`, err);
    return undefined;
  }
}

/** Ensemble: Copy Invite Link. Returns the link (also written to the clipboard). */
export async function copyInvite(ctx: Ctx, role?: InviteRole): Promise<string | undefined> {
  let chosen = role;
  if (!chosen) {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Editor', description: 'can comment, chat and react', role: 'editor' as const },
        { label: 'Viewer', description: 'reads everything, chats, no code comments', role: 'viewer' as const },
      ],
      { title: 'Ensemble: invite as', placeHolder: 'Role of the people who join with this link' },
    );
    chosen = pick?.role;
  }
  if (!chosen) {
    return undefined;
  }
  try {
    const invite = await ctx.request(lsp.createInvite, { role: chosen });
    try {
      await vscode.env.clipboard.writeText(invite.link);
    } catch (err) {
      ctx.log(`clipboard unavailable: ${describeError(err)}`);
    }
    void vscode.window.showInformationMessage(`Ensemble: invite link (${invite.role}) copied: ${invite.link}`);
    return invite.link;
  } catch (err) {
    showError(`could not create an invite`, err);
    return undefined;
  }
}

/** The relay URL an invite link points at, if it names one. */
export function linkRelay(link: string): string | undefined {
  try {
    const query = link.includes('?') ? link.slice(link.indexOf('?') + 1) : '';
    const relay = new URLSearchParams(query).get('relay');
    return relay ?? undefined;
  } catch {
    return undefined;
  }
}

/** Switches to the invite's relay when it is not one of the configured relays (`ensemble.relayUrl`,
 * emptying `ensemble.relayUrls`); false if the user declines. */
async function matchRelay(ctx: Ctx, link: string): Promise<boolean> {
  const relay = linkRelay(link);
  const configured = relays();
  if (!relay || isConfiguredRelay(relay, configured)) {
    return true;
  }
  const several = relayUrls().length > 0;
  const choice = await vscode.window.showWarningMessage(
    `This invite is for the relay ${relay}; Ensemble is set to ${configured.join(', ')}. Switch relays?`,
    {
      modal: true,
      detail: several ? 'Switching sets ensemble.relayUrl to this relay and empties ensemble.relayUrls.' : undefined,
    },
    'Switch',
  );
  if (choice !== 'Switch') {
    return false;
  }
  const settings = vscode.workspace.getConfiguration(SECTION);
  await settings.update('relayUrl', relay, vscode.ConfigurationTarget.Global);
  if (several) {
    await settings.update('relayUrls', [], vscode.ConfigurationTarget.Global);
  }
  await ctx.tokens.load(relay);
  await ctx.daemon.restart();
  return true;
}

/** Ensemble: Join Session (pasted link, bare invite token, or a link opened through the URI handler). */
export async function joinSession(ctx: Ctx, link?: string): Promise<SessionView | undefined> {
  const value =
    link ??
    (await vscode.window.showInputBox({
      prompt: 'Paste the invite link (vscode://ensemble.ensemble/join?...)',
      placeHolder: 'vscode://ensemble.ensemble/join?relay=...&invite=...',
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'Paste an invite link.'),
    }));
  if (!value?.trim()) {
    return undefined;
  }
  const text = value.trim();
  if (!(await matchRelay(ctx, text)) || !(await ensureSignedIn(ctx))) {
    return undefined;
  }
  const params = text.includes('invite=') || text.includes('://') ? { link: text } : { invite: text };
  try {
    const view = await progress('Ensemble: joining session…', () =>
      ctx.request(lsp.joinSession, params),
    );
    ctx.setSession(view);
    void vscode.window.showInformationMessage(
      `Ensemble: joined "${view.session.name}" hosted by ${view.session.host.name} as ${view.you.role}.`,
    );
    return view;
  } catch (err) {
    showError(`could not join`, err);
    return undefined;
  }
}

/** Ensemble: Leave Session. */
export async function leaveSession(ctx: Ctx): Promise<void> {
  try {
    await ctx.request(lsp.leaveSession, {});
  } catch (err) {
    showError(`could not leave`, err);
    return;
  }
  ctx.setSession(null);
}

/** Ensemble: End Session (host): ends it for everyone. */
export async function endSession(ctx: Ctx, confirmed = false): Promise<void> {
  if (!confirmed) {
    const choice = await vscode.window.showWarningMessage(
      'End the session for everyone?',
      { modal: true },
      'End Session',
    );
    if (choice !== 'End Session') {
      return;
    }
  }
  try {
    await ctx.request(lsp.endSession, {});
  } catch (err) {
    showError(`could not end the session`, err);
    return;
  }
  ctx.setSession(null);
}

/** Handles vscode://ensemble.ensemble/join?relay=...&invite=... */
export function registerUriHandler(ctx: Ctx): vscode.Disposable {
  return vscode.window.registerUriHandler({
    handleUri(uri: vscode.Uri): void {
      if (uri.path.replace(/\/+$/, '') !== '/join') {
        void vscode.window.showWarningMessage(`Ensemble: unknown link ${uri.path}.`);
        return;
      }
      void joinSession(ctx, uri.toString(true));
    },
  });
}
