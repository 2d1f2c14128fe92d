/**
 * The installed app's service worker, as the UI sees it: whether a new
 * version is waiting (`needRefresh`: the "Update available — Reload" prompt)
 * and how to switch to it. `src/pwa.ts` wires it to the service worker in a
 * production build; elsewhere (tests, `npm run dev`) nothing ever waits.
 */
export interface AppUpdateState {
  /** A new version is installed and waits for a reload. */
  needRefresh: boolean;
  /** The app shell is cached: the app opens offline from now on. */
  offlineReady: boolean;
}

type Listener = () => void;

let state: AppUpdateState = { needRefresh: false, offlineReady: false };
let apply: (() => Promise<void>) | null = null;
const listeners = new Set<Listener>();

function set(patch: Partial<AppUpdateState>): void {
  state = { ...state, ...patch };
  for (const l of [...listeners]) l();
}

export const appUpdate = {
  getState: (): AppUpdateState => state,
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /** The service worker says a new version waits; `update` switches to it (and reloads). */
  waiting(update: () => Promise<void>): void {
    apply = update;
    set({ needRefresh: true });
  },
  offlineReady(): void {
    set({ offlineReady: true });
  },
  /** "Reload": the waiting version takes over and the page reloads. */
  async reload(): Promise<void> {
    if (apply) await apply();
    else window.location.reload();
  },
  /** "Later": the prompt goes until the next version (the waiting one takes over with the next visit). */
  dismiss(): void {
    set({ needRefresh: false });
  },
};
