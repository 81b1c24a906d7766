// Ensemble chat webview. Plain script, no framework. Message bodies arrive as
// HTML already sanitized by the extension (src/chat/markdown.ts); everything
// else is written with textContent. Protocol: src/chat/messages.ts.
// @ts-check
/* global performance */
(function () {
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
      case 'error':
        errorText = 'Could not do that: ' + msg.message;
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

  // read state: tell the extension when the user looks at the panel
  window.addEventListener('focus', () => vscode.postMessage({ type: 'seen' }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') vscode.postMessage({ type: 'seen' });
  });

  // the draft survives the panel being hidden (its page is rebuilt when shown again) and reloads
  function saveDraft() {
    vscode.setState({ draft: composer.value, to: toSelect.value });
  }
  composer.addEventListener('input', saveDraft);
  toSelect.addEventListener('change', saveDraft);
  const saved = vscode.getState();
  if (saved && typeof saved.draft === 'string') composer.value = saved.draft;
  pendingTo = saved && typeof saved.to === 'string' ? saved.to : '';
  renderBanner();
  vscode.postMessage({ type: 'ready' });
})();
