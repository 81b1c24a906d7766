// Ensemble chat webview: messages from the extension, older history, actions on messages, start-up.
// The chat page loads chat-state.js, chat-render.js, chat-compose.js and chat.js in that order,
// as classic scripts sharing their top-level names (see src/chat/html.ts).
// @ts-check
/* global $, composer, editing:writable, hasMore:writable, inSession:writable, insertAtCaret,
   list, loadingOlder:writable, log, me:writable, messages, older, online:writable, people,
   renderAll, renderBanner, renderContext, renderPeople, reportTiming, scrollToBottom, toSelect,
   upsert, vscode */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- state this file only sets
/* global errorText:writable, pendingOutbox:writable, pendingTo:writable, reactions:writable, replyTo:writable */
'use strict';


// ----- host messages ------------------------------------------------------------

window.addEventListener('message', (event) => {
  const msg = event.data;
  switch (msg.type) {
    case 'init': {
      const t0 = performance.now();
      me = msg.me;
      document.body.dataset.me = me ? me.id : '';
      hasMore = msg.hasMore;
      online = msg.online;
      inSession = msg.inSession;
      reactions = msg.reactions;
      people.clear();
      for (const p of msg.people) people.set(p.id, p);
      messages.clear();
      for (const m of msg.messages) messages.set(m.id, m);
      renderPeople();
      renderAll();
      renderBanner();
      scrollToBottom();
      reportTiming(t0, msg.messages.length, 'init');
      maybeLoadOlder();
      break;
    }
    case 'upsert':
      upsert(msg.messages);
      break;
    case 'history': {
      const t0 = performance.now();
      loadingOlder = false;
      older.hidden = true;
      hasMore = msg.hasMore;
      if (msg.messages.length) {
        const fromBottom = log.scrollHeight - log.scrollTop;
        for (const m of msg.messages) messages.set(m.id, m);
        renderAll();
        log.scrollTop = log.scrollHeight - fromBottom;
        reportTiming(t0, messages.size, 'history');
      }
      maybeLoadOlder();
      break;
    }
    case 'people':
      people.clear();
      for (const p of msg.people) people.set(p.id, p);
      renderPeople();
      break;
    case 'connection':
      online = msg.online;
      inSession = msg.inSession;
      pendingOutbox = msg.pending;
      renderBanner();
      for (const m of messages.values()) {
        if (m.pending) {
          const n = document.getElementById('m-' + m.id);
          const label = n && n.querySelector(':scope > .msg-head > .pending-label');
          if (label) label.textContent = online ? 'sending…' : 'waiting for connection';
        }
      }
      break;
    case 'insert':
      insertAtCaret(msg.text);
      break;
    case 'reveal': {
      const n = document.getElementById('m-' + msg.id);
      if (n) {
        n.scrollIntoView({ block: 'center' });
        n.classList.add('flash');
        setTimeout(() => n.classList.remove('flash'), 1600);
      }
      break;
    }
    case 'remove':
      for (const id of msg.ids) {
        messages.delete(id);
        const n = document.getElementById('m-' + id);
        if (n) n.remove();
      }
      break;
    case 'error':
      errorText = msg.message;
      renderBanner();
      setTimeout(() => {
        errorText = '';
        renderBanner();
      }, 6000);
      break;
  }
});

function maybeLoadOlder() {
  if (!hasMore || loadingOlder || !inSession) return;
  if (log.scrollTop > 60 && log.scrollHeight > log.clientHeight) return;
  let min = Infinity;
  for (const m of messages.values()) if (m.seq > 0 && m.seq < min) min = m.seq;
  if (min === Infinity) return;
  loadingOlder = true;
  older.hidden = false;
  vscode.postMessage({ type: 'loadOlder', beforeSeq: min });
}

log.addEventListener('scroll', () => {
  if (log.scrollTop < 60) maybeLoadOlder();
});

// ----- actions on messages ------------------------------------------------------

list.addEventListener('click', (event) => {
  const target = /** @type {HTMLElement} */ (event.target);
  const ref = target.closest('a.coderef');
  if (ref) {
    event.preventDefault();
    const a = /** @type {HTMLElement} */ (ref);
    vscode.postMessage({
      type: 'openRef',
      path: a.dataset.path,
      line: Number(a.dataset.line),
      endLine: a.dataset.endLine ? Number(a.dataset.endLine) : null,
    });
    return;
  }
  const button = target.closest('button');
  const node = target.closest('.msg');
  if (!button || !node) return;
  const id = /** @type {HTMLElement} */ (node).dataset.id;
  const m = messages.get(id);
  if (!m) return;
  if (button.classList.contains('reply')) {
    replyTo = m.parentId || m.id; // replies to a reply stay in the same thread
    editing = null;
    if (m.to && !m.mine) toSelect.value = m.authorId;
    renderContext();
    composer.focus();
  } else if (button.classList.contains('react') || button.classList.contains('reaction')) {
    vscode.postMessage({ type: 'react', id, emoji: button.dataset.emoji });
  } else if (button.classList.contains('edit')) {
    editing = id;
    replyTo = null;
    composer.value = m.text;
    renderContext();
    composer.focus();
  } else if (button.classList.contains('delete')) {
    vscode.postMessage({ type: 'delete', id });
  }
});

$('context-cancel').addEventListener('click', () => {
  if (editing) composer.value = '';
  editing = null;
  replyTo = null;
  renderContext();
  composer.focus();
});

// read state: tell the extension when the user looks at the panel
window.addEventListener('focus', () => vscode.postMessage({ type: 'seen' }));
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') vscode.postMessage({ type: 'seen' });
});

const saved = vscode.getState();
if (saved && typeof saved.draft === 'string') composer.value = saved.draft;
pendingTo = saved && typeof saved.to === 'string' ? saved.to : '';
renderBanner();
vscode.postMessage({ type: 'ready' });
