import * as vscode from 'vscode';
import { chatHtml, chatResourceRoots } from './html';
import { FromWebview, ToWebview, parseFromWebview } from './messages';

export const CHAT_VIEW_TYPE = 'ensemble.chat';
export const CHAT_TITLE = 'Ensemble Chat';

/** A message from the page, other than the `ready` the panel handles itself. */
export type PageMessage = Exclude<FromWebview, { type: 'ready' }>;

/** What the panel asks of its owner. */
export interface ChatPanelHost {
  /** The page (re)loaded: post the whole state now; what was queued follows it. */
  ready(): void;
  /** The user looks at the panel (it became visible, or the page got the focus). */
  seen(): void;
  /** A message from the page (already checked against FromWebview). */
  receive(message: PageMessage): Promise<void>;
  /** A panel was attached or closed (`current` changed). */
  changed(): void;
}

/**
 * The single chat webview panel: created on demand or restored after a reload, its page
 * (html.ts) and the typed messages both ways. Until the page says `ready`, only `insert`
 * and `reveal` are queued; everything else is part of the snapshot the host posts then.
 */
export class ChatPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private ready = false;
  private queued: ToWebview[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: ChatPanelHost,
  ) {}

  /** The panel, while one is open. */
  get current(): vscode.WebviewPanel | undefined {
    return this.panel;
  }

  get visible(): boolean {
    return this.panel?.visible ?? false;
  }

  /** Whether a page is there and listening (posts are delivered, not dropped or queued). */
  get live(): boolean {
    return !!this.panel && this.ready;
  }

  post(msg: ToWebview): void {
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

  /** Shows the chat panel, creating it if needed. */
  createOrShow(preserveFocus = false): void {
    if (this.panel) {
      this.panel.reveal(undefined, preserveFocus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      CHAT_VIEW_TYPE,
      CHAT_TITLE,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
      this.webviewOptions(),
    );
    this.attach(panel);
  }

  private webviewOptions(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      enableFindWidget: true,
      localResourceRoots: chatResourceRoots(this.extensionUri),
    };
  }

  /** Takes over a panel: a new one or one restored by the serializer. */
  attach(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    this.ready = false;
    panel.webview.options = this.webviewOptions();
    const media = vscode.Uri.joinPath(this.extensionUri, 'media', 'chat');
    panel.iconPath = { light: vscode.Uri.joinPath(media, 'icon-light.svg'), dark: vscode.Uri.joinPath(media, 'icon-dark.svg') };
    panel.webview.html = chatHtml(panel.webview, this.extensionUri, CHAT_TITLE);
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        if (panel.visible) {
          this.host.seen();
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
          this.host.changed();
        }
      }),
    ];
    this.host.changed();
  }

  private onMessage(raw: unknown): Promise<void> | undefined {
    const msg = parseFromWebview(raw);
    if (!msg) {
      return undefined;
    }
    if (msg.type !== 'ready') {
      return this.host.receive(msg);
    }
    this.ready = true;
    this.host.ready();
    for (const q of this.queued.splice(0)) {
      this.post(q);
    }
    this.host.seen();
    return undefined;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
