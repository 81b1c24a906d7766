// Typed messages between the chat panel (extension host, panel.ts) and its webview
// (webview/*.ts): both sides import this module, so tsc checks both directions. It is
// compiled for Node and for the browser (webview/tsconfig.json): it imports nothing.

export interface PersonView {
  id: string;
  name: string;
  /** palette index: the peer's cursor color, drawn as var(--vscode-ensemble-peerN) */
  color: number;
  online: boolean;
}

export interface ReactionView {
  emoji: string;
  count: number;
  mine: boolean;
  /** display names of who reacted, for the tooltip */
  who: string[];
}

export interface MessageView {
  id: string;
  seq: number;
  authorId: string;
  authorName: string;
  color: number;
  /** sanitized HTML of the markdown body (see markdown.ts) */
  html: string;
  /** raw markdown, for editing one's own message */
  text: string;
  createdAt: number;
  editedAt: number | null;
  parentId: string | null;
  to: string | null;
  toName: string | null;
  reactions: ReactionView[];
  deleted: boolean;
  /** written here, not yet acknowledged by the relay */
  pending: boolean;
  mine: boolean;
  mentionsMe: boolean;
}

export interface InitMessage {
  type: 'init';
  me: { id: string; name: string } | null;
  people: PersonView[];
  messages: MessageView[];
  hasMore: boolean;
  online: boolean;
  inSession: boolean;
  reactions: string[];
}

export type ToWebview =
  | InitMessage
  | { type: 'upsert'; messages: MessageView[] }
  | { type: 'history'; messages: MessageView[]; hasMore: boolean }
  | { type: 'people'; people: PersonView[] }
  | { type: 'connection'; online: boolean; inSession: boolean; pending: number }
  | { type: 'insert'; text: string }
  | { type: 'reveal'; id: string }
  | { type: 'remove'; ids: string[] }
  | { type: 'error'; message: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string; parentId: string | null; to: string | null }
  | { type: 'edit'; id: string; text: string }
  | { type: 'delete'; id: string }
  | { type: 'react'; id: string; emoji: string }
  | { type: 'loadOlder'; beforeSeq: number }
  | { type: 'openRef'; path: string; line: number; endLine: number | null }
  | { type: 'rendered'; count: number; ms: number; reason: string }
  | { type: 'seen' };

export const REACTIONS = ['👍', '❤️', '🎉', '😄', '😕', '👀', '🚀', '👎'] as const;

/** Narrow an untrusted webview message to FromWebview, or undefined. */
export function parseFromWebview(raw: unknown): FromWebview | undefined {
  if (typeof raw !== 'object' || raw === null) {
    return undefined;
  }
  const m = raw as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof m[k] === 'string' ? (m[k] as string) : undefined);
  const num = (k: string): number | undefined =>
    typeof m[k] === 'number' && Number.isFinite(m[k]) ? (m[k] as number) : undefined;
  const optStr = (k: string): string | null => str(k) ?? null;
  switch (m.type) {
    case 'ready':
    case 'seen':
      return { type: m.type };
    case 'send': {
      const text = str('text');
      return text === undefined ? undefined : { type: 'send', text, parentId: optStr('parentId'), to: optStr('to') };
    }
    case 'edit': {
      const id = str('id');
      const text = str('text');
      return id === undefined || text === undefined ? undefined : { type: 'edit', id, text };
    }
    case 'delete': {
      const id = str('id');
      return id === undefined ? undefined : { type: 'delete', id };
    }
    case 'react': {
      const id = str('id');
      const emoji = str('emoji');
      return id === undefined || emoji === undefined ? undefined : { type: 'react', id, emoji };
    }
    case 'loadOlder': {
      const beforeSeq = num('beforeSeq');
      return beforeSeq === undefined ? undefined : { type: 'loadOlder', beforeSeq };
    }
    case 'openRef': {
      const path = str('path');
      const line = num('line');
      return path === undefined || line === undefined
        ? undefined
        : { type: 'openRef', path, line, endLine: num('endLine') ?? null };
    }
    case 'rendered': {
      const count = num('count');
      const ms = num('ms');
      return count === undefined || ms === undefined
        ? undefined
        : { type: 'rendered', count, ms, reason: str('reason') ?? '' };
    }
    default:
      return undefined;
  }
}
