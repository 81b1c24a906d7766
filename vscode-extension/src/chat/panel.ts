import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { type Named, describeError, humanError } from '../errors';
import { humanMessage } from '../human';
import * as lsp from '../protocol';
import type {
  ChatHistoryParams,
  ChatMessage,
  EditParams,
  ErrorParams,
  ReactParams,
  SendChatParams,
  TargetParams,
  UserRef,
} from '../collab-protocol';
import { FromWebview, PersonView, REACTIONS, ToWebview, parseFromWebview } from './messages';
import { ChatStore, Directory, fallbackColor } from './store';
import { openCodeRef, shareCursor } from './coderef';
import { chatHtml, chatResourceRoots } from './html';
import { UnreadBadge } from './unread';
import { PALETTE_SIZE } from '../colors';

export const CHAT_VIEW_TYPE = 'ensemble.chat';
const CHAT_METHODS = new Set<string>([lsp.sendChat, lsp.editChat, lsp.deleteChat, lsp.react].map((t) => t.method));
const METHOD_OF: Partial<Record<FromWebview['type'], Named>> = {
  send: lsp.sendChat,
  edit: lsp.editChat,
  delete: lsp.deleteChat,
  react: lsp.react,
};
const TITLE = 'Ensemble Chat';

function historyPageSize(): number {
  const n = vscode.workspace.getConfiguration('ensemble').get<number>('chat.historyPageSize', 50);
  return Math.min(500, Math.max(10, Math.floor(n)));
}

/**
 * The session's chat: keeps the messages the daemon delivers, owns the single
 * chat panel (created on demand, restored after a reload) and the unread count.
 */
export class ChatController implements vscode.Disposable {
  readonly store = new ChatStore();
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private ready = false;
  private queued: ToWebview[] = [];
  private sessionId: string | null = null;
  private peopleKey = '';
  private loadingOlder = false;
  private initPostedAt = 0;
  /** between joining and the first history page: what arrives is backlog, not news */
  private settling = false;
  private readonly unread: UnreadBadge;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.unread = new UnreadBadge(TITLE, ctx.extension.globalState);
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

  private onState(change: string): void {
    if (change === 'session' || change === 'daemon') {
      const id = this.ctx.state.session?.session.session_id ?? null;
      if (id !== this.sessionId) {
        this.sessionId = id;
        this.store.clear();
        this.unread.clear(this.panel);
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
    this.post({ type: 'people', people });
  }

  private postConnection(): void {
    this.post({
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
    if (unseen && !this.settling && !this.panel?.visible) {
      this.unread.add(unseen, this.panel);
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
      this.post({ type: 'remove', ids: [p.id] });
    }
    this.post({ type: 'error', message: humanMessage(p.code, p.method, p.message) });
  }

  /** After joining (the first history page is in): what was written while away is unread. */
  private catchUp(id: string): void {
    if (id === this.sessionId) {
      this.unread.catchUp(id, this.store, this.me?.id, this.panel);
    }
  }

  /** With the panel in view, everything it holds has been read. */
  private noteRead(): void {
    const id = this.sessionId;
    if (id && !this.settling && this.panel?.visible) {
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
      const params: ChatHistoryParams = { before_seq: beforeSeq, limit: historyPageSize() };
      const page = await this.ctx.request(lsp.chatHistory, params);
      if (session !== this.sessionId) {
        return;
      }
      this.store.upsert(page.messages);
      this.store.hasMore = page.has_more;
      this.postViews('history', page.messages);
    } catch (err) {
      this.ctx.log(`chat history failed: ${describeError(err)}`);
      this.store.hasMore = false;
      this.post({ type: 'history', messages: [], hasMore: false });
    } finally {
      this.loadingOlder = false;
    }
  }

  // ----- webview traffic ------------------------------------------------------------

  private post(msg: ToWebview): void {
    if (!this.panel) {
      return;
    }
    if (!this.ready) {
      if (msg.type === 'insert' || msg.type === 'reveal') {
        this.queued.push(msg);
      }
      return; // everything else is part of the init snapshot
    }
    void this.panel.webview.postMessage(msg);
  }

  private postViews(type: 'upsert' | 'history', messages: readonly ChatMessage[]): void {
    if (!this.panel || !this.ready) {
      return;
    }
    const dir = this.directory();
    const views = messages
      .map((m) => this.store.get(m.id))
      .filter((m): m is ChatMessage => m !== undefined)
      .map((m) => this.store.view(m, dir, PALETTE_SIZE));
    if (type === 'history') {
      this.post({ type, messages: views, hasMore: this.store.hasMore });
    } else {
      this.post({ type, messages: views });
    }
  }

  private postInit(): void {
    if (!this.panel || !this.ready) {
      return;
    }
    const dir = this.directory();
    this.peopleKey = JSON.stringify([...dir.people.values()]);
    this.initPostedAt = Date.now();
    this.post({
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

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseFromWebview(raw);
    if (!msg) {
      return;
    }
    try {
      await this.handle(msg);
    } catch (err) {
      this.ctx.log(`chat ${msg.type} failed: ${describeError(err)}`);
      this.post({ type: 'error', message: humanError(err, METHOD_OF[msg.type]) });
    }
  }

  private async handle(msg: FromWebview): Promise<void> {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.postInit();
        for (const q of this.queued.splice(0)) {
          this.post(q);
        }
        this.markSeen();
        return;
      case 'seen':
        this.markSeen();
        return;
      case 'send': {
        const text = msg.text.trim();
        const me = this.me;
        if (!text || !me) {
          return;
        }
        const params: SendChatParams = { text, parent_id: msg.parentId, to: msg.to };
        const queued = await this.ctx.request(lsp.sendChat, params);
        const local = this.store.addPending(queued.id, me, text, msg.parentId, msg.to);
        this.postViews('upsert', [local]);
        return;
      }
      case 'edit': {
        const params: EditParams = { target_id: msg.id, text: msg.text };
        await this.ctx.request(lsp.editChat, params);
        const m = this.store.get(msg.id);
        if (m) {
          this.store.upsert([{ ...m, text: msg.text, edited_at: Date.now() / 1000 }]);
          this.postViews('upsert', [m]);
        }
        return;
      }
      case 'delete': {
        const params: TargetParams = { target_id: msg.id };
        await this.ctx.request(lsp.deleteChat, params);
        const m = this.store.get(msg.id);
        if (m) {
          this.store.upsert([{ ...m, text: '', deleted: true }]);
          this.postViews('upsert', [m]);
        }
        return;
      }
      case 'react': {
        const params: ReactParams = { target_id: msg.id, emoji: msg.emoji };
        await this.ctx.request(lsp.react, params);
        const m = this.store.get(msg.id);
        const me = this.me?.id;
        if (m && me) {
          const reactions = { ...(m.reactions ?? {}) };
          const users = reactions[msg.emoji] ?? [];
          reactions[msg.emoji] = users.includes(me) ? users.filter((u) => u !== me) : [...users, me];
          this.store.upsert([{ ...m, reactions }]);
          this.postViews('upsert', [m]);
        }
        return;
      }
      case 'loadOlder':
        if (this.store.hasMore) {
          await this.loadPage(msg.beforeSeq);
        } else {
          this.post({ type: 'history', messages: [], hasMore: false });
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

  // ----- the panel --------------------------------------------------------------------

  /** Shows the chat panel, creating it if needed. */
  createOrShow(preserveFocus = false): void {
    if (this.panel) {
      this.panel.reveal(undefined, preserveFocus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      CHAT_VIEW_TYPE,
      TITLE,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
      this.webviewOptions(),
    );
    this.attach(panel);
  }

  private webviewOptions(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      enableFindWidget: true,
      localResourceRoots: chatResourceRoots(this.ctx.extension.extensionUri),
    };
  }

  /** Takes over a panel: a new one or one restored by the serializer. */
  attach(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    this.ready = false;
    panel.webview.options = this.webviewOptions();
    const media = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'media', 'chat');
    panel.iconPath = { light: vscode.Uri.joinPath(media, 'icon-light.svg'), dark: vscode.Uri.joinPath(media, 'icon-dark.svg') };
    panel.webview.html = chatHtml(panel.webview, this.ctx.extension.extensionUri, TITLE);
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        if (panel.visible) {
          this.markSeen();
        }
      }),
      panel.onDidDispose(() => {
        if (this.panel === panel) {
          this.panel = undefined;
          this.ready = false;
          this.queued = [];
          for (const d of this.panelDisposables) {
            d.dispose();
          }
          this.panelDisposables = [];
          this.unread.show(this.panel);
        }
      }),
    ];
    this.unread.show(this.panel);
  }

  /** Inserts text into the composer (e.g. a code reference) and shows the panel. */
  insert(text: string): void {
    this.createOrShow();
    this.post({ type: 'insert', text });
  }

  /** Shows the panel scrolled to one message. */
  reveal(messageId: string): void {
    this.createOrShow();
    this.post({ type: 'reveal', id: messageId });
  }

  private markSeen(): void {
    if (this.panel?.visible && this.unread.count) {
      this.unread.clear(this.panel);
    }
    this.noteRead();
  }

  get unreadCount(): number {
    return this.unread.count;
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

let controller: ChatController | undefined;

/** The chat controller once registerChat ran (mentions use it to reveal messages). */
export function chatController(): ChatController | undefined {
  return controller;
}

/** Registers the chat: commands, the panel serializer and the daemon listeners. */
export function registerChat(ctx: Ctx): ChatController {
  const chat = new ChatController(ctx);
  controller = chat;
  ctx.extension.subscriptions.push(
    chat,
    new vscode.Disposable(() => {
      if (controller === chat) {
        controller = undefined;
      }
    }),
    vscode.commands.registerCommand('ensemble.openChat', () => chat.createOrShow()),
    vscode.commands.registerCommand('ensemble.shareCursorInChat', () => shareCursor((text) => chat.insert(text))),
    vscode.window.registerWebviewPanelSerializer(CHAT_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
        chat.attach(panel);
        return Promise.resolve();
      },
    }),
  );
  return chat;
}
