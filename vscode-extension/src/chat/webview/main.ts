// The chat webview's entry point (bundled to dist/webview/chat.js by scripts/build.mjs and
// loaded by src/chat/html.ts): wires the page and tells the panel it is ready. No framework;
// the messages both ways are the types of ../messages.ts.
import { installActions } from './actions';
import { post, savedState } from './api';
import { installComposer } from './compose';
import { installHost } from './host';
import { installActionBars, renderBanner } from './render';
import { dom, state } from './state';

installActionBars();
installComposer();
installHost();
installActions();

// read state: tell the extension when the user looks at the panel
window.addEventListener('focus', () => post({ type: 'seen' }));
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') {
    post({ type: 'seen' });
  }
});

const saved = savedState();
if (saved && typeof saved.draft === 'string') {
  dom.composer.value = saved.draft;
}
state.pendingTo = saved && typeof saved.to === 'string' ? saved.to : '';
renderBanner();
post({ type: 'ready' });
