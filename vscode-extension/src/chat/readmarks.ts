/**
 * How far the chat of each session was read on this machine, so that messages
 * posted while one was away count as unread when one comes back.
 * Pure: storage is injected (the extension passes its globalState).
 */
export interface MarkStorage {
  get(key: string): unknown;
  update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

export const READ_MARKS_KEY = 'ensemble.chat.readMarks';
/** sessions remembered; the least recently read are forgotten first */
export const MAX_MARKS = 200;

type Marks = Record<string, { seq: number; at: number }>;

export class ReadMarks {
  constructor(private readonly storage: MarkStorage, private readonly now: () => number = Date.now) {}

  private all(): Marks {
    const raw = this.storage.get(READ_MARKS_KEY);
    return raw && typeof raw === 'object' ? { ...(raw as Marks) } : {};
  }

  /** The last seq read in a session, or undefined when it was never opened here. */
  get(sessionId: string): number | undefined {
    const mark = this.all()[sessionId];
    return mark && typeof mark.seq === 'number' ? mark.seq : undefined;
  }

  /** Records that everything up to ``seq`` was read (marks never move back). */
  async set(sessionId: string, seq: number): Promise<void> {
    const marks = this.all();
    const old = marks[sessionId];
    if (old && old.seq >= seq) {
      return;
    }
    marks[sessionId] = { seq, at: this.now() };
    const ids = Object.keys(marks);
    if (ids.length > MAX_MARKS) {
      ids.sort((a, b) => marks[a].at - marks[b].at);
      for (const id of ids.slice(0, ids.length - MAX_MARKS)) {
        delete marks[id];
      }
    }
    await this.storage.update(READ_MARKS_KEY, marks);
  }
}
