import '@testing-library/jest-dom/vitest';
import 'fake-indexeddb/auto';
import { cleanup } from '@testing-library/react';
import WS from 'jest-websocket-mock';
import { afterEach, beforeEach } from 'vitest';

// The chat client changes state from WebSocket frames, fetches and timers, as a
// live app does; tests wait for the results with `waitFor`/`findBy*`. Outside
// Testing Library's own act() calls, React should not expect every such update
// to be wrapped in act().
beforeEach(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
});

afterEach(() => {
  cleanup();
  WS.clean();
  localStorage.clear();
  document.documentElement.classList.remove('dark');
});
