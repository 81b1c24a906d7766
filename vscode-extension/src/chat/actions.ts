import type { Ctx } from '../ctx';
import type { Named } from '../errors';
import * as lsp from '../protocol';
import type { ChatMessage, UserRef } from '../collab-protocol';
import type { ChatStore } from './store';
import type { FromWebview } from './messages';

/** The request behind each action of the page (for the text of its refusal). */
export const REQUEST_OF: Partial<Record<FromWebview['type'], Named>> = {
  send: lsp.sendChat,
  edit: lsp.editChat,
  delete: lsp.deleteChat,
  react: lsp.react,
};

/** The chat requests whose refusal the daemon reports with didError (method and id). */
export const CHAT_METHODS = new Set<string>([lsp.sendChat, lsp.editChat, lsp.deleteChat, lsp.react].map((t) => t.method));

/**
 * The user's chat actions: each is a daemon request (queued in its outbox), then shown at
 * once in the store; the daemon's didReceiveChat replaces the optimistic version later.
 */
export class ChatActions {
  constructor(
    private readonly ctx: Ctx,
    private readonly store: ChatStore,
    private readonly me: () => UserRef | undefined,
    /** posts the store's current view of these messages to the page */
    private readonly show: (messages: readonly ChatMessage[]) => void,
  ) {}

  async send(text: string, parentId: string | null, to: string | null): Promise<void> {
    const trimmed = text.trim();
    const me = this.me();
    if (!trimmed || !me) {
      return;
    }
    const queued = await this.ctx.request(lsp.sendChat, { text: trimmed, parent_id: parentId, to });
    this.show([this.store.addPending(queued.id, me, trimmed, parentId, to)]);
  }

  async edit(id: string, text: string): Promise<void> {
    await this.ctx.request(lsp.editChat, { target_id: id, text });
    const m = this.store.get(id);
    if (m) {
      this.store.upsert([{ ...m, text, edited_at: Date.now() / 1000 }]);
      this.show([m]);
    }
  }

  async delete(id: string): Promise<void> {
    await this.ctx.request(lsp.deleteChat, { target_id: id });
    const m = this.store.get(id);
    if (m) {
      this.store.upsert([{ ...m, text: '', deleted: true }]);
      this.show([m]);
    }
  }

  /** Adds my reaction, or takes it back when I had given it. */
  async react(id: string, emoji: string): Promise<void> {
    await this.ctx.request(lsp.react, { target_id: id, emoji });
    const m = this.store.get(id);
    const me = this.me()?.id;
    if (m && me) {
      const reactions = { ...(m.reactions ?? {}) };
      const users = reactions[emoji] ?? [];
      reactions[emoji] = users.includes(me) ? users.filter((u) => u !== me) : [...users, me];
      this.store.upsert([{ ...m, reactions }]);
      this.show([m]);
    }
  }
}
