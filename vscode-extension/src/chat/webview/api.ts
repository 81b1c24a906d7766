// The host side of the chat webview: VS Code's webview API, typed with the shared messages.
import type { FromWebview } from '../messages';

/** What the webview keeps across hide/show and reloads (vscode.setState). */
export interface SavedState {
  draft: string;
  to: string;
}

interface WebviewApi {
  postMessage(message: FromWebview): void;
  getState(): Partial<SavedState> | undefined;
  setState(state: SavedState): void;
}

declare function acquireVsCodeApi(): WebviewApi;

/** Acquired once per page (VS Code refuses a second call). */
const vscode = acquireVsCodeApi();

/** Sends one message to the chat panel (src/chat/panel.ts). */
export function post(message: FromWebview): void {
  vscode.postMessage(message);
}

export function savedState(): Partial<SavedState> | undefined {
  return vscode.getState();
}

export function saveState(state: SavedState): void {
  vscode.setState(state);
}
