import * as vscode from 'vscode';
import { shareable } from '../tracking';
import { formatCodeRef } from './markdown';

/** Finds a workspace-relative path in the open folders and opens it at a (one-based) line. */
export async function openCodeRef(path: string, line: number, endLine: number | null): Promise<boolean> {
  const clean = path.replace(/\\/g, '/').replace(/^\/+/, '');
  if (clean.split('/').includes('..')) {
    return false;
  }
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const uri = vscode.Uri.joinPath(folder.uri, clean);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      continue;
    }
    const doc = await vscode.workspace.openTextDocument(uri);
    const last = Math.max(0, doc.lineCount - 1);
    const start = Math.min(Math.max(0, line - 1), last);
    const end = Math.min(Math.max(start, (endLine ?? line) - 1), last);
    const range = new vscode.Range(start, 0, end, doc.lineAt(end).text.length);
    await vscode.window.showTextDocument(doc, {
      selection: new vscode.Selection(range.start, range.start),
      viewColumn: vscode.ViewColumn.One,
    });
    vscode.window.activeTextEditor?.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return true;
  }
  void vscode.window.showWarningMessage(`Ensemble: ${clean} is not in this workspace.`);
  return false;
}

/** "Share Cursor Position in Chat": `path:line` (or `path:start-end`) of the active editor. */
export function shareCursor(insert: (text: string) => void): void {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !shareable(editor.document)) {
    void vscode.window.showInformationMessage('Ensemble: open a workspace file to share a position in chat.');
    return;
  }
  const sel = editor.selection;
  const path = vscode.workspace.asRelativePath(editor.document.uri, false);
  const end = sel.isEmpty || sel.end.line === sel.start.line ? undefined : sel.end.line + 1;
  const line = sel.isEmpty ? sel.active.line + 1 : sel.start.line + 1;
  insert(`${formatCodeRef({ path, line, endLine: end })} `);
}
