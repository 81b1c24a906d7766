// The chat webview's state, the page's elements and small DOM helpers. Message bodies arrive
// as HTML already sanitized by the extension (src/chat/markdown.ts); everything else is written
// with textContent.
import type { InitMessage, MessageView, PersonView } from '../messages';

export interface ChatState {
  /** every message shown, by id */
  readonly messages: Map<string, MessageView>;
  /** the other participants, by user id */
  readonly people: Map<string, PersonView>;
  me: InitMessage['me'];
  hasMore: boolean;
  loadingOlder: boolean;
  online: boolean;
  inSession: boolean;
  /** actions waiting in the daemon's outbox */
  pendingOutbox: number;
  reactions: string[];
  /** the thread (top-level message id) the composer replies to */
  replyTo: string | null;
  /** the id of my message the composer edits */
  editing: string | null;
  errorText: string;
  /** the saved recipient, applied once the people are known */
  pendingTo: string;
}

export const state: ChatState = {
  messages: new Map(),
  people: new Map(),
  me: null,
  hasMore: false,
  loadingOlder: false,
  online: true,
  inSession: false,
  pendingOutbox: 0,
  reactions: ['👍', '❤️', '🎉', '😄', '😕', '👀'],
  replyTo: null,
  editing: null,
  errorText: '',
  pendingTo: '',
};

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) {
    throw new Error(`the chat page has no ${type.name} #${id}`);
  }
  return node;
}

/** The page's fixed elements (src/chat/html.ts). */
export const dom = {
  log: byId('log', HTMLElement),
  list: byId('messages', HTMLDivElement),
  older: byId('older', HTMLDivElement),
  banner: byId('banner', HTMLDivElement),
  compose: byId('compose', HTMLFormElement),
  composer: byId('composer', HTMLTextAreaElement),
  sendButton: byId('send', HTMLButtonElement),
  toSelect: byId('to', HTMLSelectElement),
  context: byId('context', HTMLDivElement),
  contextText: byId('context-text', HTMLSpanElement),
  contextCancel: byId('context-cancel', HTMLButtonElement),
  mentionList: byId('mention-list', HTMLUListElement),
};

export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
export const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) {
    e.className = cls;
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

/** The palette index of a message's author: the participant's current one when known. */
export function colorOf(m: MessageView): number {
  const p = state.people.get(m.authorId);
  return p ? p.color : m.color;
}

export function nearBottom(): boolean {
  const log = dom.log;
  return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
}

export function scrollToBottom(): void {
  dom.log.scrollTop = dom.log.scrollHeight;
}

/** The node of a message in the page, if it is shown. */
export function messageNode(id: string): HTMLElement | null {
  return document.getElementById('m-' + id);
}
