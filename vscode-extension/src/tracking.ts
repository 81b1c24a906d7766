import * as vscode from 'vscode';
import { ignoreGlobs } from './config';
import type { Ctx } from './ctx';
import type { RevealGuard } from './guard';
import * as lsp from './protocol';
import type { Range, Selection } from './protocol';
import { traceCursor, tracing } from './trace';

/** Whether a document may be shared: a workspace file not matched by `ensemble.ignore`. */
export function shareable(doc: vscode.TextDocument): boolean {
  if (doc.uri.scheme !== 'file' || !vscode.workspace.getWorkspaceFolder(doc.uri)) {
    return false;
  }
  return !ignoreGlobs().some((pattern) => vscode.languages.match({ pattern }, doc) > 0);
}

function toRange(r: vscode.Range): Range {
  return { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}

function toSelection(s: vscode.Selection): Selection {
  return {
    anchor: { line: s.anchor.line, character: s.anchor.character },
    active: { line: s.active.line, character: s.active.character },
  };
}

/** Sends the local cursor, selections, visible ranges and focused file to the daemon. */
export class LocalTracker implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  private lastFocus: string | null | undefined;

  constructor(private readonly ctx: Ctx, private readonly guard: RevealGuard) {
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.sendAll()),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === vscode.window.activeTextEditor && !this.suppressed(e.kind)) {
          this.sendCursor(e.textEditor);
        }
      }),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => {
        if (e.textEditor === vscode.window.activeTextEditor && !this.guard.active) {
          this.sendViewport(e.textEditor);
        }
      }),
      ctx.onDidChangeState((what) => {
        if (what === 'session') {
          this.lastFocus = undefined;
          this.sendAll();
        }
      }),
    );
  }

  /** Changes caused by our own reveal are not broadcast (user keyboard/mouse always are). */
  private suppressed(kind: vscode.TextEditorSelectionChangeKind | undefined): boolean {
    return this.guard.active && kind !== vscode.TextEditorSelectionChangeKind.Keyboard && kind !== vscode.TextEditorSelectionChangeKind.Mouse;
  }

  private get live(): boolean {
    return this.ctx.inSession && this.ctx.state.daemon === 'running';
  }

  /** Sends focus, cursor and viewport of the active editor (or clears focus). */
  sendAll(): void {
    if (!this.live) {
      return;
    }
    const editor = vscode.window.activeTextEditor;
    const uri = editor && shareable(editor.document) ? editor.document.uri.toString() : null;
    if (uri !== this.lastFocus) {
      this.lastFocus = uri;
      this.ctx.notify(lsp.focus, { uri });
    }
    if (editor && uri) {
      // While revealing a followed peer, the viewport is theirs: only the file and caret are sent.
      this.sendCursor(editor);
      if (!this.guard.active) {
        this.sendViewport(editor);
      }
    }
  }

  private sendCursor(editor: vscode.TextEditor): void {
    if (!this.live || !shareable(editor.document)) {
      return;
    }
    if (tracing) {
      traceCursor((m) => this.ctx.log(m), 'ext-send', editor.selection.active.line);
    }
    this.ctx.notify(lsp.cursor, { uri: editor.document.uri.toString(), selections: editor.selections.map(toSelection) });
  }

  private sendViewport(editor: vscode.TextEditor): void {
    if (!this.live || !shareable(editor.document)) {
      return;
    }
    this.ctx.notify(lsp.viewport, { uri: editor.document.uri.toString(), ranges: editor.visibleRanges.map(toRange) });
  }

  dispose(): void {
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}
