import * as vscode from 'vscode';
import type { UserRef } from './protocol';

/** A relay sign-in kept in SecretStorage (never in settings). */
export interface StoredToken {
  token: string;
  user: UserRef;
  expires_at: number;
}

const KEY_PREFIX = 'ensemble.token:';

/** Tokens per relay URL in SecretStorage; the current one is cached for synchronous use. */
export class TokenStore implements vscode.Disposable {
  private relay = '';
  private cached: StoredToken | undefined;
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly secrets: vscode.SecretStorage) {
    this.subscription = secrets.onDidChange((e) => {
      if (e.key === KEY_PREFIX + this.relay) {
        void this.load(this.relay);
      }
    });
  }

  /** The token for the current relay, if signed in and not expired. */
  get current(): StoredToken | undefined {
    if (this.cached && this.cached.expires_at > 0 && this.cached.expires_at * 1000 < Date.now()) {
      return undefined;
    }
    return this.cached;
  }

  async load(relayUrl: string): Promise<StoredToken | undefined> {
    this.relay = relayUrl;
    const raw = await this.secrets.get(KEY_PREFIX + relayUrl);
    let next: StoredToken | undefined;
    try {
      next = raw ? (JSON.parse(raw) as StoredToken) : undefined;
    } catch {
      next = undefined;
    }
    const changed = next?.token !== this.cached?.token;
    this.cached = next;
    if (changed) {
      this.emitter.fire();
    }
    return this.current;
  }

  async save(value: StoredToken): Promise<void> {
    this.cached = value;
    await this.secrets.store(KEY_PREFIX + this.relay, JSON.stringify(value));
    this.emitter.fire();
  }

  async clear(): Promise<void> {
    const had = this.cached !== undefined;
    this.cached = undefined;
    await this.secrets.delete(KEY_PREFIX + this.relay);
    if (had) {
      this.emitter.fire();
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
