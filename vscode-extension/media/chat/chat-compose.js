// Ensemble chat webview: the composer, @mention completion and the saved draft.
// The chat page loads chat-state.js, chat-render.js, chat-compose.js and chat.js in that order,
// as classic scripts sharing their top-level names (see src/chat/html.ts).
// @ts-check
/* global $, composer, editing:writable, el, inSession:writable, mentionList, people,
   renderContext, replyTo:writable, scrollToBottom, toSelect, vscode */
'use strict';

// ----- composing ------------------------------------------------------------------

function send() {
  const text = composer.value.trim();
  if (!text || !inSession) return;
  if (editing) {
    vscode.postMessage({ type: 'edit', id: editing, text });
  } else {
    vscode.postMessage({ type: 'send', text, parentId: replyTo, to: toSelect.value || null });
  }
  composer.value = '';
  saveDraft();
  editing = null;
  replyTo = null;
  renderContext();
  closeMentions();
  scrollToBottom();
}

$('compose').addEventListener('submit', (event) => {
  event.preventDefault();
  send();
});

function insertAtCaret(text) {
  const start = composer.selectionStart;
  const end = composer.selectionEnd;
  const before = composer.value.slice(0, start);
  const sep = before && !/\s$/.test(before) ? ' ' : '';
  composer.value = before + sep + text + composer.value.slice(end);
  const caret = start + sep.length + text.length;
  composer.setSelectionRange(caret, caret);
  composer.focus();
  saveDraft();
}

// @mention completion
let mentionItems = [];
let mentionIndex = 0;
let mentionStart = -1;

function mentionQuery() {
  const caret = composer.selectionStart;
  if (caret !== composer.selectionEnd) return null;
  const prefix = composer.value.slice(0, caret);
  const m = /(^|[^\w@`])@([\w.-]*)$/.exec(prefix);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2].toLowerCase() };
}

function updateMentions() {
  const q = mentionQuery();
  if (!q) return closeMentions();
  const candidates = Array.from(people.values()).filter(
    (p) => p.id.toLowerCase().startsWith(q.query) || p.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q.query)),
  );
  if (!candidates.length) return closeMentions();
  mentionItems = candidates.slice(0, 8);
  mentionStart = q.start;
  mentionIndex = Math.min(mentionIndex, mentionItems.length - 1);
  mentionList.textContent = '';
  mentionItems.forEach((p, i) => {
    const li = el('li', 'mention-item' + (i === mentionIndex ? ' active' : ''));
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', i === mentionIndex ? 'true' : 'false');
    li.dataset.user = p.id;
    li.appendChild(el('span', 'mention-name c' + p.color, p.name));
    li.appendChild(el('span', 'mention-id', '@' + p.id));
    li.addEventListener('mousedown', (e) => {
      e.preventDefault();
      acceptMention(i);
    });
    mentionList.appendChild(li);
  });
  mentionList.hidden = false;
}

function closeMentions() {
  mentionItems = [];
  mentionIndex = 0;
  mentionStart = -1;
  mentionList.hidden = true;
}

function acceptMention(i) {
  const p = mentionItems[i];
  if (!p || mentionStart < 0) return;
  const caret = composer.selectionStart;
  const insert = '@' + p.id + ' ';
  composer.value = composer.value.slice(0, mentionStart) + insert + composer.value.slice(caret);
  const pos = mentionStart + insert.length;
  composer.setSelectionRange(pos, pos);
  closeMentions();
  composer.focus();
  saveDraft();
}

composer.addEventListener('input', updateMentions);
composer.addEventListener('click', updateMentions);
composer.addEventListener('blur', () => setTimeout(closeMentions, 100));
composer.addEventListener('keydown', (event) => {
  if (!mentionList.hidden && mentionItems.length) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const d = event.key === 'ArrowDown' ? 1 : -1;
      mentionIndex = (mentionIndex + d + mentionItems.length) % mentionItems.length;
      updateMentions();
      return;
    }
    if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      acceptMention(mentionIndex);
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      closeMentions();
      return;
    }
  }
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  } else if (event.key === 'Escape' && (editing || replyTo)) {
    if (editing) composer.value = '';
    editing = null;
    replyTo = null;
    renderContext();
  }
});

// the draft survives the panel being hidden (its page is rebuilt when shown again) and reloads
function saveDraft() {
  vscode.setState({ draft: composer.value, to: toSelect.value });
}
composer.addEventListener('input', saveDraft);
toSelect.addEventListener('change', saveDraft);
