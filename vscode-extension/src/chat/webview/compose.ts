// The chat webview's composer: sending and editing, @mention completion and the saved draft.
import type { PersonView } from '../messages';
import { post, saveState } from './api';
import { mentionAt, mentionCandidates } from './order';
import { renderContext } from './render';
import { dom, el, scrollToBottom, state } from './state';

function send(): void {
  const composer = dom.composer;
  const text = composer.value.trim();
  if (!text || !state.inSession) {
    return;
  }
  if (state.editing) {
    post({ type: 'edit', id: state.editing, text });
  } else {
    post({ type: 'send', text, parentId: state.replyTo, to: dom.toSelect.value || null });
  }
  composer.value = '';
  saveDraft();
  state.editing = null;
  state.replyTo = null;
  renderContext();
  closeMentions();
  scrollToBottom();
}

/** Inserts text at the caret (a code reference from the editor), spaced from what precedes. */
export function insertAtCaret(text: string): void {
  const composer = dom.composer;
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

// ----- @mention completion ----------------------------------------------------------

let mentionItems: PersonView[] = [];
let mentionIndex = 0;
let mentionStart = -1;

function updateMentions(): void {
  const composer = dom.composer;
  const q = mentionAt(composer.value, composer.selectionStart, composer.selectionEnd);
  if (!q) {
    closeMentions();
    return;
  }
  const candidates = mentionCandidates(state.people.values(), q.query);
  if (!candidates.length) {
    closeMentions();
    return;
  }
  mentionItems = candidates;
  mentionStart = q.start;
  mentionIndex = Math.min(mentionIndex, mentionItems.length - 1);
  const list = dom.mentionList;
  list.textContent = '';
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
    list.appendChild(li);
  });
  list.hidden = false;
}

function closeMentions(): void {
  mentionItems = [];
  mentionIndex = 0;
  mentionStart = -1;
  dom.mentionList.hidden = true;
}

function acceptMention(i: number): void {
  const p = mentionItems[i];
  if (!p || mentionStart < 0) {
    return;
  }
  const composer = dom.composer;
  const caret = composer.selectionStart;
  const insert = '@' + p.id + ' ';
  composer.value = composer.value.slice(0, mentionStart) + insert + composer.value.slice(caret);
  const pos = mentionStart + insert.length;
  composer.setSelectionRange(pos, pos);
  closeMentions();
  composer.focus();
  saveDraft();
}

function onKeyDown(event: KeyboardEvent): void {
  const composer = dom.composer;
  if (!dom.mentionList.hidden && mentionItems.length) {
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
  } else if (event.key === 'Escape' && (state.editing || state.replyTo)) {
    if (state.editing) {
      composer.value = '';
    }
    state.editing = null;
    state.replyTo = null;
    renderContext();
  }
}

// ----- the draft ----------------------------------------------------------------------

/** The draft survives the panel being hidden (its page is rebuilt when shown again) and reloads. */
function saveDraft(): void {
  saveState({ draft: dom.composer.value, to: dom.toSelect.value });
}

/** Wires the composer: submit, keys, mention completion, the saved draft. */
export function installComposer(): void {
  const composer = dom.composer;
  dom.compose.addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  composer.addEventListener('input', updateMentions);
  composer.addEventListener('click', updateMentions);
  composer.addEventListener('blur', () => setTimeout(closeMentions, 100));
  composer.addEventListener('keydown', onKeyDown);
  composer.addEventListener('input', saveDraft);
  dom.toSelect.addEventListener('change', saveDraft);
}
