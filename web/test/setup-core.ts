import 'fake-indexeddb/auto';
import WS from 'jest-websocket-mock';
import { afterEach } from 'vitest';

afterEach(() => {
  WS.clean();
});
