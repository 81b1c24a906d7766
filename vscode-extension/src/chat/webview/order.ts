// Pure helpers of the chat webview (no DOM): unit-tested under node --test.
import type { MessageView, PersonView } from '../messages';

/** Stored messages by seq, then pending ones (seq 0) in the order they were written. */
export function compareViews(a: MessageView, b: MessageView): number {
  const pa = !(a.seq > 0);
  const pb = !(b.seq > 0);
  if (pa !== pb) {
    return pa ? 1 : -1;
  }
  return pa ? a.createdAt - b.createdAt : a.seq - b.seq;
}

/** The `@word` being typed before a collapsed caret: where it starts and its lowercased text. */
export function mentionAt(text: string, start: number, end: number): { start: number; query: string } | null {
  if (start !== end) {
    return null;
  }
  const m = /(^|[^\w@`])@([\w.-]*)$/.exec(text.slice(0, start));
  if (!m) {
    return null;
  }
  return { start: start - m[2].length - 1, query: m[2].toLowerCase() };
}

/** People whose id, or a word of whose name, starts with `query` (lowercase); at most 8. */
export function mentionCandidates(people: Iterable<PersonView>, query: string): PersonView[] {
  return Array.from(people)
    .filter((p) => p.id.toLowerCase().startsWith(query) || p.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(query)))
    .slice(0, 8);
}
