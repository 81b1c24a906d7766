import * as vscode from 'vscode';
import { relayUrl, relayUrls, relays } from './config';
import type { Ctx } from './ctx';
import { describeError, showError } from './errors';
import * as lsp from './protocol';
import type { SignInResult, UserRef } from './protocol';

const LAST_USERNAME = 'ensemble.lastUsername';

/** Credentials passed by a caller (tests, automation) instead of prompting. */
export interface Credentials {
  username?: string;
  password?: string;
  displayName?: string;
}

/** The relay to name in messages: the one connected (or being tried), else the first configured. */
function relayName(ctx: Ctx): string {
  return ctx.state.connection.relay_url || relays()[0];
}

/** `relay_url` for sign-in and sign-up: the one relay; with several, the daemon tries them all. */
function signInRelay(): string | undefined {
  return relayUrls().length > 0 ? undefined : relayUrl();
}

async function ask(prompt: string, options: Partial<vscode.InputBoxOptions> = {}): Promise<string | undefined> {
  const value = await vscode.window.showInputBox({ prompt, ignoreFocusOut: true, ...options });
  return value?.trim() ? value : undefined;
}

function validUsername(value: string): string | undefined {
  return /^[A-Za-z0-9_.-]{2,32}$/.test(value.trim())
    ? undefined
    : 'Use 2-32 letters, digits, ".", "_" or "-".';
}

async function finish(ctx: Ctx, result: SignInResult): Promise<UserRef> {
  await ctx.tokens.save({ token: result.token, user: result.user, expires_at: result.expires_at });
  await ctx.extension.globalState.update(LAST_USERNAME, result.user.id);
  ctx.log(`signed in as ${result.user.id}`);
  void vscode.window.showInformationMessage(`Ensemble: signed in as ${result.user.name} (${relayName(ctx)}).`);
  return result.user;
}

/** Ensemble: Sign In. Returns the user, or undefined when cancelled or refused. */
export async function signIn(ctx: Ctx, creds: Credentials = {}): Promise<UserRef | undefined> {
  const last = ctx.extension.globalState.get<string>(LAST_USERNAME, '');
  const username = creds.username ?? (await ask(`Sign in to ${relayName(ctx)}: username`, { value: last, validateInput: validUsername }));
  if (!username) {
    return undefined;
  }
  const password = creds.password ?? (await ask(`Password for ${username}`, { password: true }));
  if (!password) {
    return undefined;
  }
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Ensemble: signing in…' },
      () => ctx.request(lsp.signIn, { username: username.trim(), password, relay_url: signInRelay() }),
    );
    return await finish(ctx, result);
  } catch (err) {
    showError(`sign-in failed`, err);
    return undefined;
  }
}

/** Ensemble: Sign Up (create an account on the relay, then signed in). */
export async function signUp(ctx: Ctx, creds: Credentials = {}): Promise<UserRef | undefined> {
  const username = creds.username ?? (await ask(`Create an account on ${relayName(ctx)}: username`, { validateInput: validUsername }));
  if (!username) {
    return undefined;
  }
  const displayName =
    creds.displayName ?? (await ask('Display name (shown next to your cursor)', { value: username.trim() }));
  if (!displayName) {
    return undefined;
  }
  let password = creds.password;
  if (password === undefined) {
    password = await ask('Choose a password (at least 8 characters)', {
      password: true,
      validateInput: (v) => (v.length >= 8 ? undefined : 'At least 8 characters.'),
    });
    if (!password) {
      return undefined;
    }
    const pw = password;
    const again = await ask('Repeat the password', {
      password: true,
      validateInput: (v) => (v === pw ? undefined : 'The passwords differ.'),
    });
    if (again !== password) {
      return undefined;
    }
  }
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Ensemble: creating account…' },
      () =>
        ctx.request(lsp.signUp, {
          username: username.trim(),
          password,
          display_name: displayName.trim(),
          relay_url: signInRelay(),
        }),
    );
    return await finish(ctx, result);
  } catch (err) {
    showError(`sign-up failed`, err);
    return undefined;
  }
}

/** Ensemble: Sign Out (forgets the token of the current relay). */
export async function signOut(ctx: Ctx): Promise<void> {
  if (ctx.state.daemon === 'running') {
    try {
      await ctx.request(lsp.signOut, {});
    } catch (err) {
      ctx.log(`sign-out request failed: ${describeError(err)}`);
    }
  }
  await ctx.tokens.clear();
  ctx.setSession(null);
  void vscode.window.showInformationMessage('Ensemble: signed out.');
}

/** Makes sure the user is signed in, offering sign in / sign up. */
export async function ensureSignedIn(ctx: Ctx): Promise<boolean> {
  if (ctx.signedIn) {
    return true;
  }
  const choice = await vscode.window.showInformationMessage(
    `Ensemble: sign in to ${relayName(ctx)} first.`,
    'Sign In',
    'Sign Up',
  );
  if (choice === 'Sign In') {
    return (await signIn(ctx)) !== undefined;
  }
  if (choice === 'Sign Up') {
    return (await signUp(ctx)) !== undefined;
  }
  return false;
}
