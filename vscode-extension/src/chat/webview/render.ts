// Rendering of the chat webview: messages (threaded, in seq order), people, the banner and the
// reply/edit context.
import type { MessageView } from '../messages';
import { post } from './api';
import { compareViews } from './order';
import { colorOf, dayFmt, dom, el, messageNode, nearBottom, scrollToBottom, state, timeFmt } from './state';

function fillMessage(node: HTMLElement, m: MessageView): void {
  node.className = 'msg';
  if (m.pending) {
    node.classList.add('pending');
  }
  if (m.mine) {
    node.classList.add('mine');
  }
  if (m.deleted) {
    node.classList.add('deleted');
  }
  if (m.mentionsMe) {
    node.classList.add('mentions-me');
  }
  if (m.to) {
    node.classList.add('direct');
  }
  node.dataset.id = m.id;
  node.dataset.author = m.authorId;
  node.dataset.seq = String(m.seq);
  if (m.parentId) {
    node.dataset.parent = m.parentId;
  } else {
    delete node.dataset.parent;
  }
  node.id = 'm-' + m.id;
  node.tabIndex = 0;

  const replies = node.querySelector(':scope > .replies') ?? el('div', 'replies');
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
  if (m.editedAt && !m.deleted) {
    head.appendChild(el('span', 'edited', '(edited)'));
  }
  if (m.pending) {
    const p = el('span', 'pending-label', pendingLabel());
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
  if (hadActions) {
    ensureActions(node);
  }
}

/** What a pending message says while it waits for the relay. */
export function pendingLabel(): string {
  return state.online ? 'sending…' : 'waiting for connection';
}

/**
 * The action bar (reply, reactions, edit, delete) is built when the pointer or the focus
 * first reaches a message: a thousand messages then cost a thousand fewer toolbars.
 */
function ensureActions(node: HTMLElement): void {
  if (node.querySelector(':scope > .msg-actions')) {
    return;
  }
  const m = state.messages.get(node.dataset.id ?? '');
  if (!m || m.deleted) {
    return;
  }
  const actions = el('div', 'msg-actions');
  const reply = el('button', 'reply', 'Reply');
  reply.type = 'button';
  reply.title = 'Reply in thread';
  actions.appendChild(reply);
  for (const emoji of state.reactions) {
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

function onPointerOrFocus(event: Event): void {
  const node = event.target instanceof Element ? event.target.closest<HTMLElement>('.msg') : null;
  if (node) {
    ensureActions(node);
  }
}

/** Builds a message's action bar on first hover or focus. */
export function installActionBars(): void {
  dom.list.addEventListener('mouseover', onPointerOrFocus);
  dom.list.addEventListener('focusin', onPointerOrFocus);
}

function renderNew(m: MessageView): HTMLElement {
  const node = el('div');
  fillMessage(node, m);
  return node;
}

/** Where a message goes: its parent's reply list, or the top level. */
function containerFor(m: MessageView): Element {
  if (m.parentId) {
    const parent = messageNode(m.parentId);
    if (parent) {
      const r = parent.querySelector(':scope > .replies');
      if (r) {
        return r;
      }
    }
  }
  return dom.list;
}

function placeNode(node: HTMLElement, m: MessageView, container: Element): void {
  // keep seq order inside the container; pending messages (seq 0) stay last
  if (m.seq > 0) {
    const kids = container.children;
    for (let i = kids.length - 1; i >= 0; i--) {
      const k = kids[i] as HTMLElement;
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

/** Renders every message again (init, history pages). */
export function renderAll(): void {
  const frag = document.createDocumentFragment();
  const nodes = new Map<string, HTMLElement>();
  const views = Array.from(state.messages.values()).sort(compareViews);
  for (const m of views) {
    nodes.set(m.id, renderNew(m));
  }
  for (const m of views) {
    const node = nodes.get(m.id);
    if (!node) {
      continue;
    }
    const parent = m.parentId ? nodes.get(m.parentId) : undefined;
    const replies = parent?.querySelector(':scope > .replies');
    if (replies) {
      replies.appendChild(node);
    } else {
      frag.appendChild(node);
    }
  }
  dom.list.textContent = '';
  dom.list.appendChild(frag);
  updateEmpty();
}

/** New or changed messages: changed in place, new ones put in seq order. */
export function upsert(views: readonly MessageView[]): void {
  const stick = nearBottom();
  for (const m of views) {
    const had = state.messages.has(m.id);
    state.messages.set(m.id, m);
    const existing = messageNode(m.id);
    if (existing && had) {
      const wasSeq = Number(existing.dataset.seq);
      fillMessage(existing, m);
      if (!(wasSeq > 0) && m.seq > 0) {
        // acknowledged: move from the pending tail to its place
        const container = existing.parentElement ?? dom.list;
        existing.remove();
        placeNode(existing, m, container);
      }
    } else {
      placeNode(renderNew(m), m, containerFor(m));
    }
  }
  updateEmpty();
  if (stick) {
    scrollToBottom();
  }
}

export function updateEmpty(): void {
  document.body.classList.toggle('empty', state.messages.size === 0);
}

/** Tells the extension how long a render took, once the frame is painted. */
export function reportTiming(t0: number, count: number, reason: string): void {
  requestAnimationFrame(() => {
    setTimeout(() => {
      const ms = performance.now() - t0;
      document.body.dataset.renderMs = ms.toFixed(1);
      document.body.dataset.renderCount = String(count);
      post({ type: 'rendered', count, ms, reason });
    }, 0);
  });
}

/** The recipient list and the authors' colors. */
export function renderPeople(): void {
  const toSelect = dom.toSelect;
  const current = toSelect.value;
  toSelect.textContent = '';
  const all = el('option', '', 'Everyone');
  all.value = '';
  toSelect.appendChild(all);
  for (const p of Array.from(state.people.values()).sort((a, b) => a.name.localeCompare(b.name))) {
    const o = el('option', '', p.name + (p.online ? '' : ' (offline)'));
    o.value = p.id;
    toSelect.appendChild(o);
  }
  const wanted = current || state.pendingTo;
  toSelect.value = state.people.has(wanted) ? wanted : '';
  if (state.people.size) {
    state.pendingTo = '';
  }
  for (const a of dom.list.querySelectorAll<HTMLElement>('.author[data-author]')) {
    const p = state.people.get(a.dataset.author ?? '');
    if (p) {
      a.className = 'author c' + p.color;
    }
  }
}

export function renderBanner(): void {
  let text = '';
  let kind = '';
  if (!state.inSession) {
    text = 'Not in a session: start or join one to chat.';
    kind = 'info';
  } else if (!state.online) {
    text = 'Offline: new messages are kept and sent when the connection returns.';
    if (state.pendingOutbox) {
      text += ' ' + state.pendingOutbox + ' waiting.';
    }
    kind = 'offline';
  }
  if (state.errorText) {
    text = state.errorText;
    kind = 'error';
  }
  const banner = dom.banner;
  banner.textContent = text;
  banner.className = 'banner ' + kind;
  banner.hidden = !text;
  document.body.classList.toggle('offline', state.inSession && !state.online);
  dom.sendButton.disabled = !state.inSession;
}

/** The line above the composer: replying to whom, or editing. */
export function renderContext(): void {
  if (state.editing) {
    dom.contextText.textContent = 'Editing your message';
  } else if (state.replyTo) {
    const m = state.messages.get(state.replyTo);
    const snippet = m ? (m.text || '').replace(/\s+/g, ' ').slice(0, 60) : '';
    dom.contextText.textContent = 'Replying to ' + (m ? m.authorName : 'a message') + (snippet ? ': ' + snippet : '');
  }
  dom.context.hidden = !state.editing && !state.replyTo;
}
