import * as vscode from 'vscode';
import { ChatController } from './chat/controller';
import { shareCursor } from './chat/coderef';
import { CHAT_VIEW_TYPE } from './chat/panel';
import type { Ctx } from './ctx';

export { ChatController } from './chat/controller';

let controller: ChatController | undefined;

/** The chat controller once registerChat ran (mentions use it to reveal messages). */
export function chatController(): ChatController | undefined {
  return controller;
}

/** Registers the chat: commands, the panel serializer and the daemon listeners. */
export function registerChat(ctx: Ctx): ChatController {
  const chat = new ChatController(ctx);
  controller = chat;
  ctx.extension.subscriptions.push(
    chat,
    new vscode.Disposable(() => {
      if (controller === chat) {
        controller = undefined;
      }
    }),
    vscode.commands.registerCommand('ensemble.openChat', () => chat.createOrShow()),
    vscode.commands.registerCommand('ensemble.shareCursorInChat', () => shareCursor((text) => chat.insert(text))),
    vscode.window.registerWebviewPanelSerializer(CHAT_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
        chat.attach(panel);
        return Promise.resolve();
      },
    }),
  );
  return chat;
}
