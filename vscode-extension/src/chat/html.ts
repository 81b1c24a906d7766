import * as vscode from 'vscode';

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 32; i++) {
    out += chars.charAt(Math.floor(Math.random() * chars.length));
  }
  return out;
}

/** Where the chat page's resources are: its stylesheet and icons, and its bundled script. */
export function chatResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'media', 'chat'), vscode.Uri.joinPath(extensionUri, 'dist', 'webview')];
}

/**
 * The chat webview's page: a strict Content-Security-Policy (nothing but our own stylesheet
 * and our one script, src/chat/webview/ bundled to dist/webview/chat.js, carrying a fresh
 * nonce), resources only from chatResourceRoots.
 */
export function chatHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const [media, bundle] = chatResourceRoots(extensionUri);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(bundle, 'chat.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css'));
  const n = nonce();
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${title}</title>
</head>
<body>
<div id="banner" class="banner" role="status" hidden></div>
<main id="log" class="log" aria-label="Chat messages">
<div id="older" class="older" hidden>Loading older messages…</div>
<div id="messages" role="log" aria-live="polite"></div>
</main>
<form id="compose" class="compose" autocomplete="off">
<div id="context" class="context" hidden><span id="context-text"></span><button type="button" id="context-cancel" title="Cancel" aria-label="Cancel">×</button></div>
<div class="compose-row">
<label class="to-label" for="to">To</label>
<select id="to" title="Send to everyone or privately to one participant"><option value="">Everyone</option></select>
</div>
<div class="compose-row compose-input">
<textarea id="composer" rows="3" placeholder="Message (Enter sends, Shift+Enter new line, @ mentions)" aria-label="Message"></textarea>
<ul id="mention-list" class="mention-list" role="listbox" hidden></ul>
<button id="send" type="submit" title="Send">Send</button>
</div>
</form>
<script nonce="${n}" src="${script.toString()}"></script>
</body>
</html>`;
  }
