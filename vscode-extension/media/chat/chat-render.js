// Ensemble chat webview: rendering of messages, people, the banner and the reply/edit context.
// The chat page loads chat-state.js, chat-render.js, chat-compose.js and chat.js in that order,
// as classic scripts sharing their top-level names (see src/chat/html.ts).
// @ts-check
/* global banner, colorOf, context, contextText, dayFmt, editing:writable, el, errorText:writable,
   inSession:writable, list, messages, nearBottom, online:writable, pendingOutbox:writable,
   pendingTo:writable, people, reactions:writable, replyTo:writable, scrollToBottom, sendButton,
   timeFmt, toSelect, vscode */
'use strict';


// ----- rendering ----------------------------------------------------------------

function fillMessage(node, m) {
  node.className = 'msg';
  if (m.pending) node.classList.add('pending');
  if (m.mine) node.classList.add('mine');
  if (m.deleted) node.classList.add('deleted');
  if (m.mentionsMe) node.classList.add('mentions-me');
  if (m.to) node.classList.add('direct');
  node.dataset.id = m.id;
  node.dataset.author = m.authorId;
  node.dataset.seq = String(m.seq);
  if (m.parentId) node.dataset.parent = m.parentId;
  else delete node.dataset.parent;
  node.id = 'm-' + m.id;
  node.tabIndex = 0;

  const replies = node.querySelector(':scope > .replies') || el('div', 'replies');
  const hadActions = !!node.querySelector(':scope > .msg-actions');
  node.textContent = '';

  const head = el('div', 'msg-head');
  const author = el('span', 'author c' + colorOf(m), m.mine ? m.authorName + ' (you)' : m.authorName);
  author.dataset.author = m.authorId;
  head.appendChild(author);
  if (m.to) {
    const toName = m.mine ? m.toName || m.to : 'you';
    head.appendChild(el('span', 'direct-label', '→ ' + toName + ' (direct)'));
  }
  const when = new Date(m.createdAt * 1000);
  const time = el('time', 'time', timeFmt.format(when));
  time.setAttribute('datetime', when.toISOString());
  time.title = dayFmt.format(when);
  head.appendChild(time);
  if (m.editedAt && !m.deleted) head.appendChild(el('span', 'edited', '(edited)'));
  if (m.pending) {
    const p = el('span', 'pending-label', online ? 'sending…' : 'waiting for connection');
    p.title = 'Kept in the outbox until the relay stores it';
    head.appendChild(p);
  }
  node.appendChild(head);

  const body = el('div', 'msg-body');
  if (m.deleted) {
    body.textContent = 'This message was deleted.';
  } else {
    body.innerHTML = m.html; // sanitized by the extension
  }
  node.appendChild(body);

  if (!m.deleted && m.reactions.length) {
    const box = el('div', 'reactions');
    for (const r of m.reactions) {
      const b = el('button', 'reaction' + (r.mine ? ' mine' : ''), r.emoji + ' ' + r.count);
      b.type = 'button';
      b.dataset.emoji = r.emoji;
      b.dataset.count = String(r.count);
      b.title = r.who.join(', ');
      b.setAttribute('aria-pressed', r.mine ? 'true' : 'false');
      box.appendChild(b);
    }
    node.appendChild(box);
  }

  node.appendChild(replies);
  if (hadActions) ensureActions(node);
}

/**
 * The action bar (reply, reactions, edit, delete) is built when the pointer or the focus
 * first reaches a message: a thousand messages then cost a thousand fewer toolbars.
 */
function ensureActions(node) {
  if (node.querySelector(':scope > .msg-actions')) return;
  const m = messages.get(node.dataset.id);
  if (!m || m.deleted) return;
  const actions = el('div', 'msg-actions');
  const reply = el('button', 'reply', 'Reply');
  reply.type = 'button';
  reply.title = 'Reply in thread';
  actions.appendChild(reply);
  for (const emoji of reactions) {
    const b = el('button', 'react', emoji);
    b.type = 'button';
    b.dataset.emoji = emoji;
    b.title = 'React with ' + emoji;
    actions.appendChild(b);
  }
  if (m.mine && !m.pending) {
    const edit = el('button', 'edit', 'Edit');
    edit.type = 'button';
    actions.appendChild(edit);
    const del = el('button', 'delete', 'Delete');
    del.type = 'button';
    actions.appendChild(del);
  }
  node.insertBefore(actions, node.querySelector(':scope > .replies'));
}

function onPointerOrFocus(event) {
  const node = /** @type {HTMLElement} */ (event.target).closest('.msg');
  if (node) ensureActions(node);
}
list.addEventListener('mouseover', onPointerOrFocus);
list.addEventListener('focusin', onPointerOrFocus);

function renderNew(m) {
  const node = el('div');
  fillMessage(node, m);
  return node;
}

/** Where a message goes: its parent's reply list, or the top level. */
function containerFor(m) {
  if (m.parentId) {
    const parent = document.getElementById('m-' + m.parentId);
    if (parent) {
      const r = parent.querySelector(':scope > .replies');
      if (r) return r;
    }
  }
  return list;
}

function placeNode(node, m, container) {
  // keep seq order inside the container; pending messages (seq 0) stay last
  if (m.seq > 0) {
    const kids = container.children;
    for (let i = kids.length - 1; i >= 0; i--) {
      const k = /** @type {HTMLElement} */ (kids[i]);
      const s = Number(k.dataset.seq);
      if (s > 0 && s < m.seq) {
        k.after(node);
        return;
      }
    }
    container.prepend(node);
    return;
  }
  container.appendChild(node);
}

function sortedViews() {
  return Array.from(messages.values()).sort((a, b) => {
    const pa = !(a.seq > 0);
    const pb = !(b.seq > 0);
    if (pa !== pb) return pa ? 1 : -1;
    return pa ? a.createdAt - b.createdAt : a.seq - b.seq;
  });
}

function renderAll() {
  const frag = document.createDocumentFragment();
  const nodes = new Map();
  const views = sortedViews();
  for (const m of views) {
    nodes.set(m.id, renderNew(m));
  }
  for (const m of views) {
    const node = nodes.get(m.id);
    const parent = m.parentId ? nodes.get(m.parentId) : undefined;
    if (parent) {
      parent.querySelector(':scope > .replies').appendChild(node);
    } else {
      frag.appendChild(node);
    }
  }
  list.textContent = '';
  list.appendChild(frag);
  updateEmpty();
}

function upsert(views) {
  const stick = nearBottom();
  for (const m of views) {
    const had = messages.has(m.id);
    messages.set(m.id, m);
    const existing = document.getElementById('m-' + m.id);
    if (existing && had) {
      const wasSeq = Number(existing.dataset.seq);
      fillMessage(existing, m);
      if (!(wasSeq > 0) && m.seq > 0) {
        // acknowledged: move from the pending tail to its place
        const container = existing.parentElement || list;
        existing.remove();
        placeNode(existing, m, container);
      }
    } else {
      placeNode(renderNew(m), m, containerFor(m));
    }
  }
  updateEmpty();
  if (stick) scrollToBottom();
}

function updateEmpty() {
  document.body.classList.toggle('empty', messages.size === 0);
}

function reportTiming(t0, count, reason) {
  requestAnimationFrame(() => {
    setTimeout(() => {
      const ms = performance.now() - t0;
      document.body.dataset.renderMs = ms.toFixed(1);
      document.body.dataset.renderCount = String(count);
      vscode.postMessage({ type: 'rendered', count, ms, reason });
    }, 0);
  });
}

function renderPeople() {
  const current = toSelect.value;
  toSelect.textContent = '';
  const all = el('option', '', 'Everyone');
  all.value = '';
  toSelect.appendChild(all);
  for (const p of Array.from(people.values()).sort((a, b) => a.name.localeCompare(b.name))) {
    const o = el('option', '', p.name + (p.online ? '' : ' (offline)'));
    o.value = p.id;
    toSelect.appendChild(o);
  }
  const wanted = current || pendingTo;
  toSelect.value = people.has(wanted) ? wanted : '';
  if (people.size) pendingTo = '';
  for (const a of list.querySelectorAll('.author[data-author]')) {
    const p = people.get(/** @type {HTMLElement} */ (a).dataset.author);
    if (p) a.className = 'author c' + p.color;
  }
}

function renderBanner() {
  let text = '';
  let kind = '';
  if (!inSession) {
    text = 'Not in a session: start or join one to chat.';
    kind = 'info';
  } else if (!online) {
    text = 'Offline: new messages are kept and sent when the connection returns.';
    if (pendingOutbox) text += ' ' + pendingOutbox + ' waiting.';
    kind = 'offline';
  }
  if (errorText) {
    text = errorText;
    kind = 'error';
  }
  banner.textContent = text;
  banner.className = 'banner ' + kind;
  banner.hidden = !text;
  document.body.classList.toggle('offline', inSession && !online);
  sendButton.disabled = !inSession;
}

function renderContext() {
  if (editing) {
    contextText.textContent = 'Editing your message';
  } else if (replyTo) {
    const m = messages.get(replyTo);
    const snippet = m ? (m.text || '').replace(/\s+/g, ' ').slice(0, 60) : '';
    contextText.textContent = 'Replying to ' + (m ? m.authorName : 'a message') + (snippet ? ': ' + snippet : '');
  }
  context.hidden = !editing && !replyTo;
}
