import '@fontsource-variable/inter/wght.css';
import './index.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { App } from './App';
import { createBrowserChatClient } from './core';

const client = createBrowserChatClient();
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');

// The service worker (offline app shell, "Update available" prompt): built apps only, not `npm run dev`.
if (import.meta.env.PROD) {
  void import('./pwa').then(({ registerServiceWorker }) => registerServiceWorker());
}

createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <App client={client} />
    </BrowserRouter>
  </StrictMode>,
);
