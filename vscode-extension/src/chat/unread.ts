import * as vscode from 'vscode';
import { MarkStorage, ReadMarks } from './readmarks';
import type { ChatStore } from './store';

/**
 * The unread chat count: on the panel's title and in a status bar item while not zero.
 * It also remembers how far each session's chat was read on this machine, so that what
 * others wrote while one was away counts as unread on rejoining.
 */
export class UnreadBadge implements vscode.Disposable {
  private n = 0;
  private readonly status: vscode.StatusBarItem;
  private readonly marks: ReadMarks;

  constructor(private readonly title: string, storage: MarkStorage) {
    this.marks = new ReadMarks(storage);
    this.status = vscode.window.createStatusBarItem('ensemble.chatUnread', vscode.StatusBarAlignment.Right, 99);
    this.status.name = 'Ensemble Chat';
    this.status.command = 'ensemble.openChat';
  }

  get count(): number {
    return this.n;
  }

  add(k: number, panel: vscode.WebviewPanel | undefined): void {
    this.n += k;
    this.show(panel);
  }

  /**
   * A session was (re)joined and its first history page is in ``store``: others' messages
   * after the session's read mark count as unread; a session never opened here, or one
   * whose chat is in view, starts read.
   */
  catchUp(sessionId: string, store: ChatStore, me: string | undefined, panel: vscode.WebviewPanel | undefined): void {
    const mark = this.marks.get(sessionId);
    if (mark === undefined || panel?.visible) {
      this.noteRead(sessionId, store);
      return;
    }
    const n = store.unreadAfter(mark, me);
    if (n) {
      this.add(n, panel);
    }
  }

  /** Everything in ``store`` has been read. */
  noteRead(sessionId: string, store: ChatStore): void {
    void this.marks.set(sessionId, store.newestSeq());
  }

  clear(panel: vscode.WebviewPanel | undefined): void {
    this.n = 0;
    this.show(panel);
  }

  show(panel: vscode.WebviewPanel | undefined): void {
    const n = this.n;
    if (panel) {
      panel.title = n ? `${this.title} (${n})` : this.title;
    }
    if (n) {
      const what = `${n} unread chat message${n === 1 ? '' : 's'}`;
      this.status.text = `$(comment-discussion) ${n}`;
      this.status.tooltip = `${what}: open the chat`;
      this.status.accessibilityInformation = { label: what, role: 'button' };
      this.status.show();
    } else {
      this.status.hide();
    }
  }

  dispose(): void {
    this.status.dispose();
  }
}
