// Pure helpers for comment threads (no vscode import: unit-tested under node --test).
import type { Comment, LocalThread, Role, Thread } from '../collab-protocol';
import { inlineCode } from '../names';

export const COMMENT_REACTIONS = ['👍', '👎', '❤️', '🎉', '😄', '😕', '👀', '🚀'] as const;

export interface Viewer {
  /** my user id */
  readonly me: string | undefined;
  readonly role: Role | undefined;
}

/** Who may start threads and reply: hosts and editors (the relay refuses viewers). */
export function mayComment(v: Viewer): boolean {
  return v.role === 'host' || v.role === 'editor';
}

/** contextValue of a thread: drives the resolve / reopen buttons. */
export function threadContext(t: Thread, v: Viewer): string {
  const parts = ['ensemble-thread', t.resolved ? 'isResolved' : 'isOpen'];
  if (mayComment(v)) {
    parts.push('canResolve');
  }
  if (v.role === 'host') {
    parts.push('canDeleteThread');
  }
  return parts.join(' ');
}

/** contextValue of a comment: drives edit / delete. */
export function commentContext(c: Comment, v: Viewer, pending: boolean): string {
  const parts = ['ensemble-comment'];
  const own = v.me !== undefined && c.author.id === v.me;
  if (own) {
    parts.push('own');
  }
  if (!pending && !c.deleted) {
    if (own) {
      parts.push('canEdit');
    }
    if (own || v.role === 'host') {
      parts.push('canDelete');
    }
  }
  return parts.join(' ');
}

/** Longest run of backticks in a text, to fence it safely. */
function fenceFor(lines: readonly string[]): string {
  let longest = 2;
  for (const l of lines) {
    for (const m of l.matchAll(/`+/g)) {
      longest = Math.max(longest, m[0].length);
    }
  }
  return '`'.repeat(longest + 1);
}

/** The note on an outdated thread's first comment, quoting the code it was written on. */
export function outdatedNote(t: LocalThread): string {
  const a = t.thread.anchor;
  const lines = a.start_line === a.end_line ? `line ${a.start_line + 1}` : `lines ${a.start_line + 1}-${a.end_line + 1}`;
  const fence = fenceFor(a.text);
  return (
    `**Outdated**: the code this thread was written on is no longer in ${inlineCode(a.path)} ` +
    `(it was at ${lines}):\n\n${fence}\n${a.text.join('\n')}\n${fence}\n`
  );
}

/** Line range to pin a thread at: its current place, or the recorded one when outdated. */
export function pinLines(t: LocalThread, lineCount?: number): { start: number; end: number } {
  if (t.range) {
    return { start: t.range.start.line, end: Math.max(t.range.start.line, t.range.end.line) };
  }
  const last = lineCount !== undefined ? Math.max(0, lineCount - 1) : Number.MAX_SAFE_INTEGER;
  const start = Math.min(t.thread.anchor.start_line, last);
  return { start, end: start };
}

/** The comments to show: deleted ones are dropped. */
export function visibleComments(t: Thread): Comment[] {
  return t.comments.filter((c) => !c.deleted);
}

/** A short one-line snippet of a text for notifications. */
export function snippet(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Markdown with each @mention of a mentioned user in bold, outside code spans and blocks.
 * `mentions` are the user ids the relay found in the text.
 */
export function highlightMentions(text: string, mentions: readonly string[] | undefined): string {
  if (!mentions || mentions.length === 0) {
    return text;
  }
  const ids = new Set(mentions.map((m) => m.toLowerCase()));
  return text
    .split(/(```[\s\S]*?```|`[^`\n]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(/(^|[^\w@*])@([A-Za-z0-9_.-]*[A-Za-z0-9_])/g, (all, pre: string, id: string) =>
            ids.has(id.toLowerCase()) ? `${pre}**@${id}**` : all,
          ),
    )
    .join('');
}
