import * as vscode from 'vscode';

/** The unread chat count: on the panel's title and in a status bar item while not zero. */
export class UnreadBadge implements vscode.Disposable {
  private n = 0;
  private readonly status: vscode.StatusBarItem;

  constructor(private readonly title: string) {
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
