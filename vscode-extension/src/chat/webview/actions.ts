// What the user does to messages in the chat webview: reply, react, edit, delete, open a
// code reference.
import { post } from './api';
import { renderContext } from './render';
import { dom, state } from './state';

function onClick(event: MouseEvent): void {
  const target = event.target;
  if (!(target instanceof Element)) {
    return;
  }
  const ref = target.closest<HTMLElement>('a.coderef');
  if (ref) {
    event.preventDefault();
    const path = ref.dataset.path;
    if (path !== undefined) {
      post({
        type: 'openRef',
        path,
        line: Number(ref.dataset.line),
        endLine: ref.dataset.endLine ? Number(ref.dataset.endLine) : null,
      });
    }
    return;
  }
  const button = target.closest<HTMLButtonElement>('button');
  const node = target.closest<HTMLElement>('.msg');
  if (!button || !node) {
    return;
  }
  const id = node.dataset.id;
  const m = id === undefined ? undefined : state.messages.get(id);
  if (!id || !m) {
    return;
  }
  const composer = dom.composer;
  if (button.classList.contains('reply')) {
    state.replyTo = m.parentId || m.id; // replies to a reply stay in the same thread
    state.editing = null;
    if (m.to && !m.mine) {
      dom.toSelect.value = m.authorId;
    }
    renderContext();
    composer.focus();
  } else if (button.classList.contains('react') || button.classList.contains('reaction')) {
    const emoji = button.dataset.emoji;
    if (emoji !== undefined) {
      post({ type: 'react', id, emoji });
    }
  } else if (button.classList.contains('edit')) {
    state.editing = id;
    state.replyTo = null;
    composer.value = m.text;
    renderContext();
    composer.focus();
  } else if (button.classList.contains('delete')) {
    post({ type: 'delete', id });
  }
}

function cancelContext(): void {
  if (state.editing) {
    dom.composer.value = '';
  }
  state.editing = null;
  state.replyTo = null;
  renderContext();
  dom.composer.focus();
}

/** Wires the message actions and the reply/edit context's Cancel. */
export function installActions(): void {
  dom.list.addEventListener('click', onClick);
  dom.contextCancel.addEventListener('click', cancelContext);
}
