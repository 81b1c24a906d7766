import * as vscode from 'vscode';
import type { Ctx, StateChange } from '../ctx';
import { describeError, humanError } from '../errors';
import { humanMessage } from '../human';
import * as lsp from '../protocol';
import type { ChatMessage, ErrorParams, UserRef } from '../collab-protocol';
import { PALETTE_SIZE } from '../colors';
import { CHAT_METHODS, ChatActions, REQUEST_OF } from './actions';
import { openCodeRef } from './coderef';
import { PersonView, REACTIONS } from './messages';
import { CHAT_TITLE, ChatPanel, ChatPanelHost, PageMessage } from './panel';
import { ChatStore, Directory, fallbackColor } from './store';
import { UnreadBadge } from './unread';

function historyPageSize(): number {
  const n = vscode.workspace.getConfiguration('ensemble').get<number>('chat.historyPageSize', 50);
  return Math.min(500, Math.max(10, Math.floor(n)));
}

/**
 * The session's chat: keeps the messages the daemon delivers, shows them in the chat panel
 * (panel.ts) and counts what is unread; the page's actions go to ChatActions.
 */
export class ChatController implements vscode.Disposable, ChatPanelHost {
  readonly store = new ChatStore();
  private readonly view: ChatPanel;
  private readonly actions: ChatActions;
  private sessionId: string | null = null;
  private peopleKey = '';
  private loadingOlder = false;
  private initPostedAt = 0;
  /** between joining and the first history page: what arrives is backlog, not news */
  private settling = false;
  private readonly unread: UnreadBadge;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.unread = new UnreadBadge(CHAT_TITLE, ctx.extension.globalState);
    this.view = new ChatPanel(ctx.extension.extensionUri, this);
    this.actions = new ChatActions(ctx, this.store, () => this.me, (messages) => this.postViews('upsert', messages));
    this.disposables.push(
      this.unread,
      ctx.onNotification(lsp.didReceiveChat, (p) => this.onChat(p.messages)),
      ctx.onNotification(lsp.didError, (p) => this.onRefused(p)),
      ctx.onDidChangeState((change) => this.onState(change)),
    );
    this.onState('session');
  }

  // ----- state from the daemon ------------------------------------------------------

  private get me(): UserRef | undefined {
    const s = this.ctx.state.session;
    return s?.you.user ?? this.ctx.state.connection.user ?? undefined;
  }

  private directory(): Directory {
    const people = new Map<string, PersonView>();
    const session = this.ctx.state.session;
    for (const p of session?.participants ?? []) {
      people.set(p.user.id, { id: p.user.id, name: p.user.name, color: -1, online: p.online });
    }
    for (const p of this.ctx.state.peers) {
      people.set(p.user.id, { id: p.user.id, name: p.user.name, color: p.color % PALETTE_SIZE, online: p.online });
    }
    const me = this.me;
    if (me) {
      people.delete(me.id);
    }
    for (const [id, person] of people) {
      if (person.color < 0) {
        people.set(id, { ...person, color: fallbackColor(id, PALETTE_SIZE) });
      }
    }
    return { me, people };
  }

  private onState(change: StateChange): void {
    if (change === 'session' || change === 'daemon') {
      const id = this.ctx.state.session?.session.session_id ?? null;
      if (id !== this.sessionId) {
        this.sessionId = id;
        this.store.clear();
        this.unread.clear(this.view.current);
        this.postInit();
        if (id) {
          this.settling = true;
          void this.loadPage(null).finally(() => {
            this.settling = false;
            this.catchUp(id);
          });
        }
      }
      this.postPeopleIfChanged();
    } else if (change === 'peers') {
      this.postPeopleIfChanged();
    } else if (change === 'connection' || change === 'outbox') {
      this.postConnection();
    }
  }

  private postPeopleIfChanged(): void {
    const people = [...this.directory().people.values()];
    const key = JSON.stringify(people);
    if (key === this.peopleKey) {
      return;
    }
    this.peopleKey = key;
    this.view.post({ type: 'people', people });
  }

  private postConnection(): void {
    this.view.post({
      type: 'connection',
      online: this.ctx.state.connection.state === 'online',
      inSession: this.ctx.inSession,
      pending: this.ctx.state.outbox,
    });
  }

  private onChat(messages: ChatMessage[]): void {
    const current = this.sessionId;
    const mine = messages.filter((m) => !m.session_id || m.session_id === current);
    if (!mine.length) {
      return;
    }
    const fresh = this.store.upsert(mine);
    const me = this.me?.id;
    const unseen = fresh.filter((m) => m.author.id !== me && !m.deleted).length;
    if (unseen && !this.settling && !this.view.visible) {
      this.unread.add(unseen, this.view.current);
    }
    this.postViews('upsert', mine);
    this.noteRead();
  }

  /**
   * The relay refused one of our chat actions: a refused send disappears; the daemon sends
   * the message as it is for a refused edit, delete or reaction (onChat rolls those back).
   */
  private onRefused(p: ErrorParams): void {
    if (!p.id || !p.method || !CHAT_METHODS.has(p.method)) {
      return;
    }
    if (this.store.dropPending(p.id)) {
      this.view.post({ type: 'remove', ids: [p.id] });
    }
    this.view.post({ type: 'error', message: humanMessage(p.code, p.method, p.message) });
  }

  /** After joining (the first history page is in): what was written while away is unread. */
  private catchUp(id: string): void {
    if (id === this.sessionId) {
      this.unread.catchUp(id, this.store, this.me?.id, this.view.current);
    }
  }

  /** With the panel in view, everything it holds has been read. */
  private noteRead(): void {
    const id = this.sessionId;
    if (id && !this.settling && this.view.visible) {
      this.unread.noteRead(id, this.store);
    }
  }

  private async loadPage(beforeSeq: number | null): Promise<void> {
    if (this.loadingOlder) {
      return;
    }
    this.loadingOlder = true;
    const session = this.sessionId;
    try {
      const page = await this.ctx.request(lsp.chatHistory, { before_seq: beforeSeq, limit: historyPageSize() });
      if (session !== this.sessionId) {
        return;
      }
      this.store.upsert(page.messages);
      this.store.hasMore = page.has_more;
      this.postViews('history', page.messages);
    } catch (err) {
      this.ctx.log(`chat history failed: ${describeError(err)}`);
      this.store.hasMore = false;
      this.view.post({ type: 'history', messages: [], hasMore: false });
    } finally {
      this.loadingOlder = false;
    }
  }

  // ----- what the page shows ---------------------------------------------------------

  private postViews(type: 'upsert' | 'history', messages: readonly ChatMessage[]): void {
    if (!this.view.live) {
      return;
    }
    const dir = this.directory();
    const views = messages
      .map((m) => this.store.get(m.id))
      .filter((m): m is ChatMessage => m !== undefined)
      .map((m) => this.store.view(m, dir, PALETTE_SIZE));
    if (type === 'history') {
      this.view.post({ type, messages: views, hasMore: this.store.hasMore });
    } else {
      this.view.post({ type, messages: views });
    }
  }

  private postInit(): void {
    if (!this.view.live) {
      return;
    }
    const dir = this.directory();
    this.peopleKey = JSON.stringify([...dir.people.values()]);
    this.initPostedAt = Date.now();
    this.view.post({
      type: 'init',
      me: dir.me ? { id: dir.me.id, name: dir.me.name } : null,
      people: [...dir.people.values()],
      messages: this.store.ordered().map((m) => this.store.view(m, dir, PALETTE_SIZE)),
      hasMore: this.store.hasMore,
      online: this.ctx.state.connection.state === 'online',
      inSession: this.ctx.inSession,
      reactions: [...REACTIONS],
    });
    this.postConnection();
  }

  // ----- the page (ChatPanelHost) ------------------------------------------------------

  ready(): void {
    this.postInit();
  }

  seen(): void {
    if (this.view.visible && this.unread.count) {
      this.unread.clear(this.view.current);
    }
    this.noteRead();
  }

  changed(): void {
    this.unread.show(this.view.current);
  }

  async receive(msg: PageMessage): Promise<void> {
    try {
      await this.handle(msg);
    } catch (err) {
      this.ctx.log(`chat ${msg.type} failed: ${describeError(err)}`);
      this.view.post({ type: 'error', message: humanError(err, REQUEST_OF[msg.type]) });
    }
  }

  private async handle(msg: PageMessage): Promise<void> {
    switch (msg.type) {
      case 'seen':
        this.seen();
        return;
      case 'send':
        return this.actions.send(msg.text, msg.parentId, msg.to);
      case 'edit':
        return this.actions.edit(msg.id, msg.text);
      case 'delete':
        return this.actions.delete(msg.id);
      case 'react':
        return this.actions.react(msg.id, msg.emoji);
      case 'loadOlder':
        if (this.store.hasMore) {
          await this.loadPage(msg.beforeSeq);
        } else {
          this.view.post({ type: 'history', messages: [], hasMore: false });
        }
        return;
      case 'openRef':
        await openCodeRef(msg.path, msg.line, msg.endLine);
        return;
      case 'rendered': {
        const total = msg.reason === 'init' && this.initPostedAt ? `, ${Date.now() - this.initPostedAt} ms from posting them` : '';
        this.ctx.log(`chat panel rendered ${msg.count} messages in ${msg.ms.toFixed(1)} ms (${msg.reason}${total})`);
        return;
      }
    }
  }

  // ----- for commands and mentions ---------------------------------------------------

  /** Shows the chat panel, creating it if needed. */
  createOrShow(preserveFocus = false): void {
    this.view.createOrShow(preserveFocus);
  }

  /** Takes over a panel restored by the serializer. */
  attach(panel: vscode.WebviewPanel): void {
    this.view.attach(panel);
  }

  /** Inserts text into the composer (e.g. a code reference) and shows the panel. */
  insert(text: string): void {
    this.createOrShow();
    this.view.post({ type: 'insert', text });
  }

  /** Shows the panel scrolled to one message. */
  reveal(messageId: string): void {
    this.createOrShow();
    this.view.post({ type: 'reveal', id: messageId });
  }

  get unreadCount(): number {
    return this.unread.count;
  }

  dispose(): void {
    this.view.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
