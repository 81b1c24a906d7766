// Ensemble chat webview. Plain scripts, no framework. Message bodies arrive as
// HTML already sanitized by the extension (src/chat/markdown.ts); everything
// else is written with textContent. Protocol: src/chat/messages.ts.
// The chat page loads chat-state.js, chat-render.js, chat-compose.js and chat.js in that order,
// as classic scripts sharing their top-level names (see src/chat/html.ts).
// This one holds the state, the page's elements and small helpers.
// @ts-check
'use strict';

const vscode = acquireVsCodeApi();

/** @type {Map<string, any>} */
const messages = new Map();
/** @type {Map<string, any>} */
const people = new Map();
let me = null;
let hasMore = false;
let loadingOlder = false;
let online = true;
let inSession = false;
let pendingOutbox = 0;
let reactions = ['👍', '❤️', '🎉', '😄', '😕', '👀'];
let replyTo = null;
let editing = null;
let errorText = '';
let pendingTo = '';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const log = $('log');
const list = $('messages');
const older = $('older');
const banner = $('banner');
const composer = /** @type {HTMLTextAreaElement} */ ($('composer'));
const sendButton = /** @type {HTMLButtonElement} */ ($('send'));
const toSelect = /** @type {HTMLSelectElement} */ ($('to'));
const context = $('context');
const contextText = $('context-text');
const mentionList = $('mention-list');

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function colorOf(m) {
  const p = people.get(m.authorId);
  return p ? p.color : m.color;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
}

function scrollToBottom() {
  log.scrollTop = log.scrollHeight;
}
