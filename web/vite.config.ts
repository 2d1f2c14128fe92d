import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';
import { defineConfig } from 'vitest/config';

// `npm run dev` serves the client with hot reload and sends the API and the
// WebSocket to a whisper-server on 127.0.0.1:8080 (`make run`).
const api = process.env.WHISPER_API ?? 'http://127.0.0.1:8080';

/**
 * The installable app (vite-plugin-pwa): `manifest.webmanifest`, and a service
 * worker (`sw.js`, Workbox generateSW) that precaches the app shell (index.html)
 * and the hashed assets, versioned by their content. Registered by src/pwa.ts
 * with `registerType: 'prompt'`: a new version waits until the user picks
 * "Reload". Nothing of the API is cached: `/v1/` (history, files, the
 * WebSocket), `/healthz` and `/readyz` always go to the network, and a page
 * load falls back to the cached index.html only for the app's own routes.
 */
const pwa = VitePWA({
  registerType: 'prompt',
  injectRegister: false,
  strategies: 'generateSW',
  manifest: {
    id: '/',
    name: 'WhisperChat',
    short_name: 'WhisperChat',
    description: 'Real-time rooms for your team.',
    start_url: '/chat',
    scope: '/',
    display: 'standalone',
    background_color: '#18181b',
    theme_color: '#4f46e5',
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
      { src: '/icons/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
    ],
  },
  workbox: {
    globPatterns: ['**/*.{js,css,html,svg,png,woff2}'],
    // index.html for a page load of the app's routes (/chat/lobby…), never for the server's own paths.
    navigateFallback: '/index.html',
    navigateFallbackDenylist: [/^\/v1\//, /^\/healthz/, /^\/readyz/, /^\/metrics/],
    // No runtime caching at all: what is not precached (the API, files, the socket) is the network's.
    runtimeCaching: [],
    cleanupOutdatedCaches: true,
    clientsClaim: false,
    skipWaiting: false,
    sourcemap: false,
  },
  devOptions: { enabled: false },
});

export default defineConfig({
  plugins: [react(), tailwindcss(), pwa],
  server: {
    host: '127.0.0.1',
    proxy: {
      '/v1': { target: api, ws: true, changeOrigin: false },
      '/healthz': { target: api },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No public source maps: the server would serve them to anyone.
    // `WHISPER_SOURCEMAP=1 npm run build` makes them for debugging.
    sourcemap: process.env.WHISPER_SOURCEMAP === '1',
  },
  test: {
    // jest-websocket-mock calls `expect.extend` when imported.
    globals: true,
    restoreMocks: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'core',
          environment: 'node',
          include: ['test/core/**/*.test.ts'],
          setupFiles: ['test/setup-core.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'ui',
          environment: 'jsdom',
          include: ['test/**/*.test.tsx'],
          setupFiles: ['test/setup-ui.ts'],
        },
      },
    ],
  },
});
