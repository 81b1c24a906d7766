// Messages from the chat panel (src/chat/panel.ts) and the loading of older history.
import type { ToWebview } from '../messages';
import { post } from './api';
import { insertAtCaret } from './compose';
import { pendingLabel, renderAll, renderBanner, renderPeople, reportTiming, upsert } from './render';
import { dom, messageNode, scrollToBottom, state } from './state';

const ERROR_SHOWN_MS = 6000;
const FLASH_MS = 1600;

function onMessage(msg: ToWebview): void {
  switch (msg.type) {
    case 'init': {
      const t0 = performance.now();
      state.me = msg.me;
      document.body.dataset.me = state.me ? state.me.id : '';
      state.hasMore = msg.hasMore;
      state.online = msg.online;
      state.inSession = msg.inSession;
      state.reactions = msg.reactions;
      state.people.clear();
      for (const p of msg.people) {
        state.people.set(p.id, p);
      }
      state.messages.clear();
      for (const m of msg.messages) {
        state.messages.set(m.id, m);
      }
      renderPeople();
      renderAll();
      renderBanner();
      scrollToBottom();
      reportTiming(t0, msg.messages.length, 'init');
      maybeLoadOlder();
      return;
    }
    case 'upsert':
      upsert(msg.messages);
      return;
    case 'history': {
      const t0 = performance.now();
      const log = dom.log;
      state.loadingOlder = false;
      dom.older.hidden = true;
      state.hasMore = msg.hasMore;
      if (msg.messages.length) {
        const fromBottom = log.scrollHeight - log.scrollTop;
        for (const m of msg.messages) {
          state.messages.set(m.id, m);
        }
        renderAll();
        log.scrollTop = log.scrollHeight - fromBottom;
        reportTiming(t0, state.messages.size, 'history');
      }
      maybeLoadOlder();
      return;
    }
    case 'people':
      state.people.clear();
      for (const p of msg.people) {
        state.people.set(p.id, p);
      }
      renderPeople();
      return;
    case 'connection':
      state.online = msg.online;
      state.inSession = msg.inSession;
      state.pendingOutbox = msg.pending;
      renderBanner();
      for (const m of state.messages.values()) {
        if (m.pending) {
          const label = messageNode(m.id)?.querySelector(':scope > .msg-head > .pending-label');
          if (label) {
            label.textContent = pendingLabel();
          }
        }
      }
      return;
    case 'insert':
      insertAtCaret(msg.text);
      return;
    case 'reveal': {
      const n = messageNode(msg.id);
      if (n) {
        n.scrollIntoView({ block: 'center' });
        n.classList.add('flash');
        setTimeout(() => n.classList.remove('flash'), FLASH_MS);
      }
      return;
    }
    case 'remove':
      for (const id of msg.ids) {
        state.messages.delete(id);
        messageNode(id)?.remove();
      }
      return;
    case 'error':
      state.errorText = msg.message;
      renderBanner();
      setTimeout(() => {
        state.errorText = '';
        renderBanner();
      }, ERROR_SHOWN_MS);
      return;
    default: {
      const unknown: never = msg; // every message the panel sends is handled above
      return unknown;
    }
  }
}

/** Near the top with more history on the relay: asks for the page before the oldest message. */
function maybeLoadOlder(): void {
  const log = dom.log;
  if (!state.hasMore || state.loadingOlder || !state.inSession) {
    return;
  }
  if (log.scrollTop > 60 && log.scrollHeight > log.clientHeight) {
    return;
  }
  let min = Infinity;
  for (const m of state.messages.values()) {
    if (m.seq > 0 && m.seq < min) {
      min = m.seq;
    }
  }
  if (min === Infinity) {
    return;
  }
  state.loadingOlder = true;
  dom.older.hidden = false;
  post({ type: 'loadOlder', beforeSeq: min });
}

/** Listens to the panel, and loads older history when scrolled to the top. */
export function installHost(): void {
  window.addEventListener('message', (event: MessageEvent<ToWebview>) => onMessage(event.data));
  dom.log.addEventListener('scroll', () => {
    if (dom.log.scrollTop < 60) {
      maybeLoadOlder();
    }
  });
}
