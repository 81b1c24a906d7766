import * as vscode from 'vscode';
import type { LanguageClient, NotificationType, RequestType } from 'vscode-languageclient/node';
import type { Daemon } from './client';
import type { TokenStore } from './tokens';
import { describeError } from './errors';
import * as lsp from './protocol';
import type { ConnectionParams, PeerView, SessionView, Status } from './protocol';
import { traceCursor, tracing } from './trace';

/** Which part of the shared state changed. */
export type StateChange = 'connection' | 'session' | 'peers' | 'follow' | 'outbox' | 'daemon';

export type DaemonState = 'stopped' | 'starting' | 'running' | 'failed';

export interface State {
  connection: ConnectionParams;
  session: SessionView | null;
  peers: PeerView[];
  following: string | null;
  outbox: number;
  daemon: DaemonState;
}

/**
 * What every feature module gets: the extension context, the output channel,
 * the daemon's LanguageClient, and the session/peers state with a change event.
 */
export class Ctx implements vscode.Disposable {
  readonly state: State;
  private readonly emitter = new vscode.EventEmitter<StateChange>();
  /** Fires after `state` changed; the argument says which part. */
  readonly onDidChangeState = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [this.emitter];

  constructor(
    readonly extension: vscode.ExtensionContext,
    readonly output: vscode.OutputChannel,
    readonly tokens: TokenStore,
    readonly daemon: Daemon,
  ) {
    this.state = {
      connection: { state: 'signed_out', relay_url: '' },
      session: null,
      peers: [],
      following: null,
      outbox: 0,
      daemon: 'stopped',
    };
    this.disposables.push(
      this.onNotification(lsp.didChangeConnection, (p) => this.setConnection(p)),
      this.onNotification(lsp.didChangeSession, (p) => this.setSession(p.session ?? null)),
      this.onNotification(lsp.didChangePeers, (p) => this.setPeers(p.peers)),
      this.onNotification(lsp.didChangeFollow, (p) => this.setFollowing(p.user_id ?? null)),
      this.onNotification(lsp.didChangeOutbox, (p) => {
        this.state.outbox = p.pending;
        this.emitter.fire('outbox');
      }),
      daemon.onDidChangeState((s) => {
        this.state.daemon = s;
        if (s !== 'running') {
          this.clearSessionState();
        }
        this.emitter.fire('daemon');
        if (s === 'running') {
          void this.refresh();
        }
      }),
    );
  }

  /** The daemon's language client (may not be started yet; see `start`). */
  get client(): LanguageClient {
    return this.daemon.client;
  }

  get signedIn(): boolean {
    return this.tokens.current !== undefined;
  }

  get inSession(): boolean {
    return !!this.state.session;
  }

  get isHost(): boolean {
    return this.state.session?.you.role === 'host';
  }

  /** My own user id, when known. */
  get me(): string | undefined {
    return this.state.session?.you.user.id ?? this.state.connection.user?.id ?? undefined;
  }

  peer(userId: string): PeerView | undefined {
    return this.state.peers.find((p) => p.user.id === userId);
  }

  /** Starts the daemon if needed; resolves once it is ready for requests. */
  start(): Promise<void> {
    return this.daemon.start();
  }

  /**
   * Sends a request (one of the protocol's constants) to the daemon, starting it first when
   * needed. It goes out by the constant's method name: the in-editor test suite is another
   * bundle, whose constants are not this bundle's objects.
   */
  async request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    await this.daemon.start();
    return this.client.sendRequest<R>(type.method, params);
  }

  /** Sends a notification if the daemon runs; ephemeral traffic is dropped otherwise. */
  notify<P>(type: NotificationType<P>, params: P): void {
    if (this.state.daemon !== 'running') {
      return;
    }
    this.client.sendNotification(type, params).catch((err: unknown) => {
      this.log(`notification ${type.method} failed: ${describeError(err)}`);
    });
  }

  /** Registers a handler for a daemon notification; survives daemon restarts. */
  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): vscode.Disposable {
    return this.daemon.onNotification(type, handler);
  }

  log(message: string): void {
    this.output.appendLine(`[${new Date().toISOString()}] ${message}`);
  }

  /** Fetches the whole state from the daemon (after a start or restart). */
  async refresh(): Promise<void> {
    try {
      const s = await this.client.sendRequest(lsp.state, {});
      this.setConnection(s.connection);
      this.setSession(s.session);
      this.setPeers(s.peers ?? []);
      this.setFollowing(s.following ?? null);
      this.state.outbox = s.outbox ?? 0;
      this.emitter.fire('outbox');
    } catch (err) {
      this.log(`state request failed: ${describeError(err)}`);
    }
  }

  setConnection(p: ConnectionParams): void {
    this.state.connection = p;
    this.emitter.fire('connection');
  }

  setSession(session: SessionView | null | undefined): void {
    this.state.session = session ?? null;
    if (!session) {
      this.state.peers = [];
      this.state.following = null;
      this.emitter.fire('peers');
      this.emitter.fire('follow');
    }
    this.emitter.fire('session');
  }

  /** My own status as last set here (the daemon reports peers, not me). */
  setMyStatus(status: Status): void {
    const session = this.state.session;
    if (session && session.you.status !== status) {
      session.you = { ...session.you, status };
      this.emitter.fire('session');
    }
  }

  setPeers(peers: PeerView[]): void {
    const me = this.me;
    this.state.peers = peers.filter((p) => p.user.id !== me);
    if (tracing) {
      for (const p of this.state.peers) {
        if (p.selections?.length) {
          traceCursor((m) => this.log(m), 'ext-peers-in', p.selections[0].active.line);
        }
      }
    }
    this.emitter.fire('peers');
  }

  setFollowing(userId: string | null): void {
    if (this.state.following === userId) {
      return;
    }
    this.state.following = userId;
    this.emitter.fire('follow');
  }

  private clearSessionState(): void {
    if (this.state.session || this.state.peers.length) {
      this.setSession(null);
    }
    this.state.connection = { state: 'offline', relay_url: this.state.connection.relay_url };
    this.emitter.fire('connection');
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
