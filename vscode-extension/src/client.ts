import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  NotificationType,
  RevealOutputChannelOn,
  State as ClientState,
} from 'vscode-languageclient/node';
import { maxRestarts } from './config';
import type { DaemonState } from './ctx';
import { describeError, ReportedError } from './errors';
import type { InitializationOptions } from './protocol';
import { PythonError, PythonInfo, reportPythonError, resolvePython } from './python';
import { shareable } from './tracking';

const RESTART_WINDOW_MS = 3 * 60 * 1000;

type Handler = (params: unknown) => void;

/**
 * The daemon process (python -m daemon, bundled in the .vsix) and its
 * LanguageClient over stdio: lazy start, bounded restart after a crash.
 */
export class Daemon implements vscode.Disposable {
  readonly client: LanguageClient;
  private readonly stateEmitter = new vscode.EventEmitter<DaemonState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly disposables: vscode.Disposable[] = [this.stateEmitter];
  private starting: Promise<void> | undefined;
  private python: PythonInfo | undefined;
  private pythonReported = false;
  private crashes: number[] = [];
  private stopping = false;
  private gaveUp = false;

  constructor(
    private readonly ext: vscode.ExtensionContext,
    private readonly output: vscode.OutputChannel,
    initializationOptions: () => InitializationOptions,
  ) {
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }],
      outputChannel: output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions,
      // Files outside the workspace or matched by ensemble.ignore never reach the daemon.
      middleware: {
        didOpen: (doc, next) => (shareable(doc) ? next(doc) : Promise.resolve()),
        didChange: (e, next) => (shareable(e.document) ? next(e) : Promise.resolve()),
        didClose: (doc, next) => (shareable(doc) ? next(doc) : Promise.resolve()),
        didSave: (doc, next) => (shareable(doc) ? next(doc) : Promise.resolve()),
      },
      errorHandler: {
        error: (_err, _msg, count) => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
          handled: true,
        }),
        closed: () => this.onClosed(),
      },
    };
    this.client = new LanguageClient('ensemble', 'Ensemble', () => this.spawn(), clientOptions);
    this.disposables.push(
      this.client.onDidChangeState((e) => {
        if (e.newState === ClientState.Running) {
          this.stateEmitter.fire('running');
        } else if (e.newState === ClientState.Starting) {
          this.stateEmitter.fire('starting');
        } else {
          this.stateEmitter.fire(this.gaveUp ? 'failed' : 'stopped');
        }
      }),
    );
  }

  get running(): boolean {
    return this.client.state === ClientState.Running;
  }

  /** Starts the daemon once; later calls wait for the same start. */
  start(): Promise<void> {
    if (this.running) {
      return Promise.resolve();
    }
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.gaveUp = false;
    try {
      this.python ??= await resolvePython();
      this.log(`python ${this.python.command} (${this.python.version.join('.')}, from ${this.python.source})`);
    } catch (err) {
      this.stateEmitter.fire('failed');
      if (err instanceof PythonError) {
        this.log(err.message);
        // One clear message per attempt (none while the previous one is still open).
        if (!this.pythonReported) {
          this.pythonReported = true;
          void reportPythonError(err).finally(() => {
            this.pythonReported = false;
          });
        }
        throw new ReportedError(`Ensemble cannot start: ${err.message}`, { cause: err });
      }
      throw err;
    }
    this.stopping = false;
    await this.client.start();
  }

  /** Stops the daemon (sign-out of the window, settings change, deactivate). */
  async stop(): Promise<void> {
    if (this.client.state === ClientState.Stopped) {
      return;
    }
    this.stopping = true;
    try {
      await this.client.stop(5000);
    } catch (err) {
      this.log(`stop failed: ${describeError(err)}`);
    }
  }

  /** Restarts with fresh settings and a fresh crash budget. */
  async restart(): Promise<void> {
    this.python = undefined;
    this.pythonReported = false;
    this.crashes = [];
    await this.stop();
    await this.start();
  }

  /** Forgets the resolved interpreter (the `ensemble.python` setting changed). */
  resetPython(): void {
    this.python = undefined;
    this.pythonReported = false;
  }

  /** Adds a handler for a daemon notification; one client registration per method. */
  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): vscode.Disposable {
    const method = type.method;
    let set = this.handlers.get(method);
    if (!set) {
      const created = new Set<Handler>();
      set = created;
      this.handlers.set(method, created);
      this.disposables.push(
        this.client.onNotification(method, (params: unknown) => {
          for (const h of [...created]) {
            try {
              h(params);
            } catch (err) {
              this.log(`handler for ${method} failed: ${describeError(err)}`);
            }
          }
        }),
      );
    }
    const target = set;
    const h = handler as Handler; // the set is per method: every handler in it takes P
    target.add(h);
    return new vscode.Disposable(() => target.delete(h));
  }

  private onClosed(): { action: CloseAction; handled: boolean } {
    if (this.stopping) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS);
    const budget = maxRestarts();
    if (this.crashes.length < budget) {
      this.crashes.push(now);
      this.log(`daemon stopped unexpectedly; restart ${this.crashes.length}/${budget}`);
      void vscode.window.showWarningMessage(
        `The Ensemble background service stopped unexpectedly and is restarting (${this.crashes.length}/${budget}).`,
      );
      return { action: CloseAction.Restart, handled: true };
    }
    this.gaveUp = true;
    this.log(`daemon stopped ${budget + 1} times within 3 minutes; not restarting`);
    void vscode.window
      .showErrorMessage(
        'The Ensemble background service keeps stopping and was not restarted. See the Ensemble output for details.',
        'Show Log',
        'Restart',
      )
      .then((choice) => {
        if (choice === 'Show Log') {
          this.output.show(true);
        } else if (choice === 'Restart') {
          void this.restart().catch((err: unknown) => this.log(`restart failed: ${describeError(err)}`));
        }
      });
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  /** Where the daemon's Python packages are: bundled/ in the .vsix, else the source tree. */
  private pythonPath(): { cwd: string; paths: string[] } {
    const tool = this.ext.asAbsolutePath(path.join('bundled', 'tool'));
    const libs = this.ext.asAbsolutePath(path.join('bundled', 'libs'));
    if (fs.existsSync(path.join(tool, 'daemon'))) {
      return { cwd: tool, paths: [tool, libs] };
    }
    const repo = path.dirname(this.ext.extensionPath);
    return { cwd: repo, paths: [repo, libs] };
  }

  private async spawn(): Promise<ChildProcess> {
    this.python ??= await resolvePython();
    const { cwd, paths } = this.pythonPath();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONPATH: paths.join(path.delimiter),
      PYTHONUNBUFFERED: '1',
      PYTHONNOUSERSITE: '1',
      PYTHONDONTWRITEBYTECODE: '1',
    };
    this.log(`starting daemon: ${this.python.command} -m daemon`);
    const child = spawn(this.python.command, ['-m', 'daemon'], { cwd, env, stdio: 'pipe', windowsHide: true });
    child.on('exit', (code, signal) => this.log(`daemon exited (code ${code ?? '-'}, signal ${signal ?? '-'})`));
    return child;
  }

  private log(message: string): void {
    this.output.appendLine(`[${new Date().toISOString()}] ${message}`);
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
    void this.stop();
  }
}
