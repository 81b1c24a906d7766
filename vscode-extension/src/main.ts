import * as vscode from 'vscode';
import { registerChat } from './chat';
import { Daemon } from './client';
import { registerComments } from './comments';
import { registerCommands } from './commands';
import * as config from './config';
import { registerContextKeys } from './contextkeys';
import { Ctx } from './ctx';
import { CursorRenderer } from './cursors';
import { describeError } from './errors';
import { FollowController } from './follow';
import { RevealGuard } from './guard';
import { registerNotices } from './notices';
import { ParticipantsProvider } from './participants';
import { ActivityReporter } from './presence';
import type { InitializationOptions } from './protocol';
import { registerUriHandler } from './session';
import { StatusItem } from './status';
import { TokenStore } from './tokens';
import { LocalTracker } from './tracking';
import { ViewersItem } from './viewers';

let current: Ctx | undefined;

function initializationOptions(context: vscode.ExtensionContext, tokens: TokenStore): () => InitializationOptions {
  return () => ({
    relay_url: config.relayUrl(),
    relay_urls: config.relayUrls(),
    token: tokens.current?.token ?? null,
    display_name: config.displayName() ?? tokens.current?.user.name ?? null,
    data_dir: context.globalStorageUri.fsPath,
    workspace_roots: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString()),
    native_ui: true,
    idle_after: config.idleAfter(),
    away_after: config.awayAfter(),
    cursor_rate: config.cursorRate(),
    log_level: config.logLevel(),
    ignore: config.ignoreGlobs(),
    peer_diagnostics: false,
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<Ctx> {
  const started = Date.now();
  const output = vscode.window.createOutputChannel('Ensemble');
  const tokens = new TokenStore(context.secrets);
  await tokens.load(config.relays()[0]);
  const daemon = new Daemon(context, output, initializationOptions(context, tokens));
  const ctx = new Ctx(context, output, tokens, daemon);
  current = ctx;
  const guard = new RevealGuard();
  const follow = new FollowController(ctx, guard);
  context.subscriptions.push(
    output,
    tokens,
    daemon,
    ctx,
    registerContextKeys(ctx),
    new StatusItem(ctx),
    new ParticipantsProvider(ctx),
    new CursorRenderer(ctx),
    new LocalTracker(ctx, guard),
    new ActivityReporter(ctx),
    new ViewersItem(ctx),
    follow,
    registerNotices(ctx),
    registerCommands(ctx, follow),
    registerUriHandler(ctx),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('ensemble.relayUrl') || e.affectsConfiguration('ensemble.relayUrls')) {
        await tokens.load(config.relays()[0]);
      }
      if (e.affectsConfiguration('ensemble.python')) {
        daemon.resetPython();
      }
      if (config.RESTART_SETTINGS.some((s) => e.affectsConfiguration(s)) && daemon.running) {
        ctx.log('settings changed; restarting the daemon');
        await daemon.restart().catch((err: unknown) => ctx.log(`restart failed: ${describeError(err)}`));
      }
    }),
  );
  registerComments(ctx);
  registerChat(ctx);
  ctx.log(`activated in ${Date.now() - started} ms`);
  // Signed in: connect in the background so presence and sessions are ready.
  if (tokens.current) {
    daemon.start().catch((err: unknown) => ctx.log(`daemon start failed: ${describeError(err)}`));
  }
  return ctx;
}

export async function deactivate(): Promise<void> {
  await current?.daemon.stop();
  current = undefined;
}
