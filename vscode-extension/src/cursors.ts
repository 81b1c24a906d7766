import * as vscode from 'vscode';
import { colorId, selectionColorId } from './colors';
import { showNameTags } from './config';
import type { Ctx } from './ctx';
import { drawEach, validPoint } from './guarded';
import { displayName, escapeMarkdown } from './names';
import { disconnected } from './status';
import type { PeerView } from './protocol';
import { traceCursor, tracing } from './trace';

/** Normalizes a URI string so the daemon's and the editor's spellings compare equal. */
export function uriKey(uri: string | vscode.Uri): string {
  return (typeof uri === 'string' ? vscode.Uri.parse(uri) : uri).toString();
}

// Extra CSS carried through `textDecoration`: positions the caret and the name tag
// without shifting the peer's code sideways.
const CARET_CSS =
  'none; position: absolute; top: 0; bottom: 0; margin-left: -1px; z-index: 2; pointer-events: none; ' +
  'border-left-width: 2px; border-left-style: ';
// The tag sits above the caret's line, or below it on the editor's first visible line.
const TAG_CSS = (above: boolean): string =>
  `none; position: absolute; ${above ? 'bottom' : 'top'}: 100%; z-index: 3; padding: 0 4px; ` +
  `border-radius: ${above ? '3px 3px 3px 0' : '0 3px 3px 3px'}; ` +
  'font-size: 0.85em; line-height: 1.2em; white-space: nowrap; pointer-events: none';

type TagSlot = 'above' | 'aboveApprox' | 'below' | 'belowApprox';

/**
 * One peer's decoration set: caret, name tag, selection, ruler mark, each in an
 * exact and an approximate ("~", dashed, italic) variant. Created on join,
 * disposed on leave.
 */
class PeerDecorations implements vscode.Disposable {
  readonly key: string;
  private readonly caret: vscode.TextEditorDecorationType;
  private readonly caretApprox: vscode.TextEditorDecorationType;
  private readonly tags: Record<TagSlot, vscode.TextEditorDecorationType>;
  private readonly selection: vscode.TextEditorDecorationType;
  private readonly all: vscode.TextEditorDecorationType[];

  constructor(readonly name: string, readonly color: number, tags: boolean) {
    this.key = `${name}\u0000${color}\u0000${tags}`;
    const color_ = new vscode.ThemeColor(colorId(color));
    const caret = (style: 'solid' | 'dashed'): vscode.TextEditorDecorationType =>
      vscode.window.createTextEditorDecorationType({
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        overviewRulerColor: color_,
        overviewRulerLane: vscode.OverviewRulerLane.Center,
        before: {
          contentText: '',
          borderColor: color_,
          textDecoration: CARET_CSS + style,
        },
      });
    const tag = (text: string, approximate: boolean, above: boolean): vscode.TextEditorDecorationType =>
      vscode.window.createTextEditorDecorationType({
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        after: tags
          ? {
              contentText: text,
              backgroundColor: color_,
              color: new vscode.ThemeColor('ensemble.peerNameForeground'),
              fontStyle: approximate ? 'italic' : 'normal',
              border: approximate ? '1px dashed' : undefined,
              textDecoration: TAG_CSS(above),
            }
          : undefined,
      });
    this.caret = caret('solid');
    this.caretApprox = caret('dashed');
    this.tags = {
      above: tag(name, false, true),
      aboveApprox: tag(`~ ${name}`, true, true),
      below: tag(name, false, false),
      belowApprox: tag(`~ ${name}`, true, false),
    };
    this.selection = vscode.window.createTextEditorDecorationType({
      backgroundColor: new vscode.ThemeColor(selectionColorId(color)),
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.all = [this.caret, this.caretApprox, ...Object.values(this.tags), this.selection];
  }

  /** Draws the peer in this editor, or clears it when the peer is elsewhere. */
  apply(editor: vscode.TextEditor, peer: PeerView | undefined): void {
    const here = peer?.uri && peer.online && uriKey(peer.uri) === uriKey(editor.document.uri);
    if (!here || !peer.selections?.length) {
      this.clear(editor);
      return;
    }
    const doc = editor.document;
    const approx = peer.approximate === true;
    const hover = new vscode.MarkdownString(
      `**${escapeMarkdown(displayName(peer.user))}** (${peer.role}, ${peer.status})${approx ? '\n\nApproximate position: the file differs here.' : ''}`,
    );
    const carets: vscode.DecorationOptions[] = [];
    const selections: vscode.Range[] = [];
    for (const s of peer.selections) {
      const active = position(doc, s.active);
      const anchor = position(doc, s.anchor);
      if (!active || !anchor) {
        continue; // not a position at all (the daemon drops these; never trust it blindly)
      }
      carets.push({ range: new vscode.Range(active, active), hoverMessage: hover });
      if (!active.isEqual(anchor)) {
        selections.push(new vscode.Range(anchor, active));
      }
    }
    if (carets.length === 0) {
      this.clear(editor);
      return;
    }
    editor.setDecorations(approx ? this.caretApprox : this.caret, carets);
    editor.setDecorations(approx ? this.caret : this.caretApprox, []);
    const firstVisible = editor.visibleRanges[0]?.start.line ?? 0;
    const above = carets[0].range.start.line > firstVisible;
    const slot: TagSlot = `${above ? 'above' : 'below'}${approx ? 'Approx' : ''}`;
    for (const [name, type] of Object.entries(this.tags)) {
      editor.setDecorations(type, name === slot ? [carets[0]] : []);
    }
    editor.setDecorations(this.selection, selections);
  }

  clear(editor: vscode.TextEditor): void {
    for (const t of this.all) {
      editor.setDecorations(t, []);
    }
  }

  dispose(): void {
    for (const t of this.all) {
      t.dispose();
    }
  }
}

/** A peer's position inside `doc`, or undefined when it is no position (negative, not a
 * finite integer); `new vscode.Position` throws on those. */
function position(doc: vscode.TextDocument, p: unknown): vscode.Position | undefined {
  const point = validPoint(p);
  if (!point) {
    return undefined;
  }
  const line = Math.min(point.line, Math.max(0, doc.lineCount - 1));
  return doc.validatePosition(new vscode.Position(line, point.character));
}

/** Draws every online peer's cursor and selections in the visible editors showing their file. */
export class CursorRenderer implements vscode.Disposable {
  private readonly sets = new Map<string, PeerDecorations>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Peers whose drawing failed, logged once each: one bad peer never stops the others. */
  private readonly failed = new Set<string>();

  constructor(private readonly ctx: Ctx) {
    this.subscriptions.push(
      ctx.onDidChangeState((what) => {
        if (what === 'peers' || what === 'session' || what === 'daemon' || what === 'connection') {
          this.sync();
          if (tracing && what === 'peers') {
            this.traceDrawn();
          }
        }
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => this.render()),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => this.render(e.textEditor)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ensemble.cursors')) {
          this.disposeAll();
          this.sync();
        }
      }),
    );
    this.sync();
  }

  /** Creates sets for peers who arrived, disposes those of peers who left, then draws. */
  private sync(): void {
    const tags = showNameTags();
    const present = new Map<string, PeerView>();
    // disconnected from the relay: where peers were is stale, so their cursors are not drawn
    const live = !disconnected(this.ctx);
    for (const p of this.ctx.state.peers) {
      if (p.online && live) {
        present.set(p.user.id, p);
      }
    }
    for (const [id, set] of this.sets) {
      const peer = present.get(id);
      if (!peer || set.key !== `${displayName(peer.user)}\u0000${peer.color}\u0000${tags}`) {
        set.dispose();
        this.sets.delete(id);
      }
    }
    for (const [id, peer] of present) {
      if (!this.sets.has(id)) {
        this.sets.set(id, new PeerDecorations(displayName(peer.user), peer.color, tags));
      }
    }
    this.render();
  }

  /** Draws in every visible editor, or only in `only` (after it scrolled). */
  private render(only?: vscode.TextEditor): void {
    if (this.sets.size === 0) {
      return;
    }
    const peers = new Map(this.ctx.state.peers.map((p) => [p.user.id, p]));
    for (const editor of only ? [only] : vscode.window.visibleTextEditors) {
      drawEach(
        this.sets,
        (id, set) => set.apply(editor, peers.get(id)),
        (_id, set) => set.clear(editor),
        this.failed,
        (message) => this.ctx.log(`cursor of ${message}`),
      );
    }
  }

  /** The drawn carets' lines, when tracing (src/trace.ts): setDecorations has returned. */
  private traceDrawn(): void {
    for (const p of this.ctx.state.peers) {
      if (p.online && p.selections?.length && this.sets.has(p.user.id)) {
        traceCursor((m) => this.ctx.log(m), 'ext-drawn', p.selections[0].active.line);
      }
    }
  }

  /** How many peers currently have a decoration set (for tests and diagnostics). */
  get size(): number {
    return this.sets.size;
  }

  private disposeAll(): void {
    for (const set of this.sets.values()) {
      set.dispose();
    }
    this.sets.clear();
  }

  dispose(): void {
    this.disposeAll();
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}
