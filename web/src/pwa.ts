/// <reference types="vite-plugin-pwa/vanillajs" />
/**
 * Registers the service worker vite-plugin-pwa builds (`sw.js`, Workbox's
 * generateSW: the app shell and the hashed assets precached; never `/v1/`).
 * `registerType: 'prompt'`: a new version installs in the background and waits;
 * the app says "Update available — Reload" (`appUpdate`) instead of switching
 * under the user or keeping the old one forever. It looks for a new version
 * at each start and every hour after.
 */
import { registerSW } from 'virtual:pwa-register';
import { appUpdate } from './lib/app-update';

const CHECK_EVERY_MS = 60 * 60 * 1000;

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  const update = registerSW({
    onNeedRefresh: () => appUpdate.waiting(() => update(true)),
    onOfflineReady: () => appUpdate.offlineReady(),
    onRegisteredSW: (_url, registration) => {
      if (!registration) return;
      setInterval(() => {
        if (navigator.onLine) void registration.update().catch(() => undefined);
      }, CHECK_EVERY_MS);
    },
  });
}
