import { createHash } from 'node:crypto';
import type { ChatMessage, UserRef } from '../collab-protocol';
import { renderMarkdown } from './markdown';
import type { MessageView, PersonView, ReactionView } from './messages';

/** Who is who, for turning wire messages into views. */
export interface Directory {
  readonly me: UserRef | undefined;
  /** everyone known in the session (participants and peers), by user id */
  readonly people: ReadonlyMap<string, PersonView>;
}

/**
 * Palette index of a user as the daemon assigns it (daemon/lsp/views.py `color_of`: the first four
 * bytes of sha1(user id), big-endian, modulo 12), folded into the extension's palette the way
 * colors.ts does. Used for users who are not among the peers: oneself, and past participants.
 */
export function fallbackColor(userId: string, paletteSize: number): number {
  const digest = createHash('sha1').update(userId, 'utf8').digest();
  return (digest.readUInt32BE(0) % DAEMON_PALETTE) % paletteSize;
}

const DAEMON_PALETTE = 12;

/**
 * The chat of the current session as far as this window knows it: messages by
 * id (upserts from the daemon, history pages, local pending sends).
 * Pure: no vscode import, so it is unit-tested under `node --test`.
 */
export class ChatStore {
  private readonly byId = new Map<string, ChatMessage>();
  /** ids sent from here and not yet stored by the relay */
  private readonly pending = new Set<string>();
  hasMore = true;

  get size(): number {
    return this.byId.size;
  }

  clear(): void {
    this.byId.clear();
    this.pending.clear();
    this.hasMore = true;
  }

  get(id: string): ChatMessage | undefined {
    return this.byId.get(id);
  }

  /** Applies upserts; returns the messages that are new to this store. */
  upsert(messages: readonly ChatMessage[]): ChatMessage[] {
    const fresh: ChatMessage[] = [];
    for (const m of messages) {
      const prev = this.byId.get(m.id);
      if (prev && prev.seq > 0 && m.seq > 0 && m.seq < prev.seq) {
        continue; // an older copy (history page arriving after a live update)
      }
      if (!prev) {
        fresh.push(m);
      }
      this.byId.set(m.id, m);
      if (m.seq > 0) {
        this.pending.delete(m.id);
      }
    }
    return fresh;
  }

  /** A message sent from here: shown at once, pending until the relay stores it. */
  addPending(id: string, author: UserRef, text: string, parentId: string | null, to: string | null): ChatMessage {
    const existing = this.byId.get(id);
    if (existing && existing.seq > 0) {
      return existing; // the echo was faster than the request's answer
    }
    const msg: ChatMessage = {
      id,
      session_id: '',
      seq: 0,
      author,
      text,
      created_at: Date.now() / 1000,
      parent_id: parentId,
      to,
      mentions: [],
      reactions: {},
      edited_at: null,
      deleted: false,
    };
    this.byId.set(id, msg);
    this.pending.add(id);
    return msg;
  }

  /** Forgets a message sent from here that the relay refused; true when it was pending. */
  dropPending(id: string): boolean {
    const m = this.byId.get(id);
    if (!m || !this.isPending(m)) {
      return false;
    }
    this.byId.delete(id);
    this.pending.delete(id);
    return true;
  }

  isPending(m: ChatMessage): boolean {
    return this.pending.has(m.id) || !(m.seq > 0);
  }

  /** Newest stored seq (0 when none): how far a reader who saw everything here has read. */
  newestSeq(): number {
    let max = 0;
    for (const m of this.byId.values()) {
      if (m.seq > max) {
        max = m.seq;
      }
    }
    return max;
  }

  /** Messages stored after ``seq`` that count as unread for ``me``: others', not deleted. */
  unreadAfter(seq: number, me: string | undefined): number {
    let n = 0;
    for (const m of this.byId.values()) {
      if (m.seq > seq && m.author.id !== me && !m.deleted) {
        n += 1;
      }
    }
    return n;
  }

  /** Oldest stored seq, for asking the page before it. */
  oldestSeq(): number | undefined {
    let min: number | undefined;
    for (const m of this.byId.values()) {
      if (m.seq > 0 && (min === undefined || m.seq < min)) {
        min = m.seq;
      }
    }
    return min;
  }

  /** Messages in display order: stored ones by seq, then pending ones by time. */
  ordered(): ChatMessage[] {
    return [...this.byId.values()].sort((a, b) => {
      const pa = this.isPending(a);
      const pb = this.isPending(b);
      if (pa !== pb) {
        return pa ? 1 : -1;
      }
      return pa ? a.created_at - b.created_at : a.seq - b.seq;
    });
  }

  view(m: ChatMessage, dir: Directory, paletteSize: number): MessageView {
    const me = dir.me?.id;
    const person = dir.people.get(m.author.id);
    const deleted = m.deleted === true;
    const mentions = m.mentions ?? [];
    const mentionable = new Set<string>([...dir.people.keys(), ...mentions]);
    if (me) {
      mentionable.add(me);
    }
    const reactions: ReactionView[] = Object.entries(m.reactions ?? {})
      .filter(([, users]) => users.length > 0)
      .map(([emoji, users]) => ({
        emoji,
        count: users.length,
        mine: me !== undefined && users.includes(me),
        who: users.map((u) => dir.people.get(u)?.name ?? (u === me ? dir.me?.name ?? u : u)),
      }));
    const to = m.to ?? null;
    return {
      id: m.id,
      seq: m.seq,
      authorId: m.author.id,
      authorName: m.author.name || person?.name || m.author.id,
      color: person?.color ?? fallbackColor(m.author.id, paletteSize),
      html: deleted ? '' : renderMarkdown(m.text, { mentionable, me }),
      text: deleted ? '' : m.text,
      createdAt: m.created_at,
      editedAt: m.edited_at ?? null,
      parentId: m.parent_id ?? null,
      to,
      toName: to === null ? null : dir.people.get(to)?.name ?? (to === me ? dir.me?.name ?? to : to),
      reactions,
      deleted,
      pending: this.isPending(m),
      mine: me !== undefined && m.author.id === me,
      mentionsMe: me !== undefined && (mentions.includes(me) || (to === me && m.author.id !== me)),
    };
  }
}
