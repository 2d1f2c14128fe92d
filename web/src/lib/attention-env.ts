/**
 * The browser's side of `Attention` (src/core/attention.ts): whether the tab
 * is hidden, the Notification API, and a short tone made with WebAudio (no
 * sound file is shipped). With several tabs open, each message's notification
 * and tone happen in one tab only: the first to claim it (a Web Lock around a
 * list of the latest claimed in localStorage).
 */
import type { AttentionEnv, AttentionNotice, Permission } from '../core/attention';

const CLAIMS_KEY = 'whisperchat.attention.claimed';
const KEEP_CLAIMS = 50;

/** Whether this tab is the first to take `tag` (every tab that sees the message asks). */
async function claim(tag: string): Promise<boolean> {
  const take = () => {
    try {
      const claimed = JSON.parse(localStorage.getItem(CLAIMS_KEY) ?? '[]') as string[];
      if (claimed.includes(tag)) return false;
      localStorage.setItem(CLAIMS_KEY, JSON.stringify([...claimed, tag].slice(-KEEP_CLAIMS)));
      return true;
    } catch {
      return true;
    }
  };
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return take();
  try {
    return await locks.request('whisperchat.attention', () => take());
  } catch {
    return take();
  }
}

let audio: AudioContext | null = null;

function audioContext(): AudioContext | null {
  if (audio) return audio;
  const Ctor = typeof window !== 'undefined' ? (window.AudioContext ?? null) : null;
  if (!Ctor) return null;
  try {
    audio = new Ctor();
  } catch {
    return null;
  }
  return audio;
}

/** Two soft notes, a fifth apart, a fifth of a second in all. */
export function playTone(): void {
  const ctx = audioContext();
  if (!ctx) return;
  if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
  const start = ctx.currentTime + 0.01;
  [880, 1318.5].forEach((frequency, i) => {
    const at = start + i * 0.09;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.18, at + 0.012);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.12);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.13);
  });
}

/** Browsers let audio start only after a gesture: the first click or key of the page readies it. */
function primeAudioOnGesture(): void {
  if (typeof window === 'undefined') return;
  const prime = () => {
    const ctx = audioContext();
    if (ctx?.state === 'suspended') void ctx.resume().catch(() => undefined);
  };
  window.addEventListener('pointerdown', prime, { once: true, capture: true });
  window.addEventListener('keydown', prime, { once: true, capture: true });
}

function permission(): Permission {
  if (typeof Notification === 'undefined') return 'unsupported';
  return Notification.permission;
}

function show(notice: AttentionNotice, onClick: () => void): void {
  const options: NotificationOptions = { body: notice.body, tag: notice.tag, dir: 'auto', icon: '/icons/icon-192.png' };
  try {
    const n = new Notification(notice.title, options);
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
  } catch {
    // Where pages may not make notifications themselves (Chrome on Android): the service worker's.
    void navigator.serviceWorker?.ready
      .then((registration) => registration.showNotification(notice.title, options))
      .catch(() => undefined);
  }
}

/** The browser's `AttentionEnv`. */
export function browserAttentionEnv(): AttentionEnv {
  primeAudioOnGesture();
  return {
    hidden: () => typeof document !== 'undefined' && (document.visibilityState === 'hidden' || document.hidden),
    onVisibilityChange: (listener) => {
      if (typeof document === 'undefined') return () => undefined;
      document.addEventListener('visibilitychange', listener);
      window.addEventListener('focus', listener);
      return () => {
        document.removeEventListener('visibilitychange', listener);
        window.removeEventListener('focus', listener);
      };
    },
    permission,
    requestPermission: async () => {
      if (typeof Notification === 'undefined') return 'unsupported';
      try {
        return await Notification.requestPermission();
      } catch {
        return permission();
      }
    },
    notify: (notice, onClick) => {
      void claim(notice.tag).then((mine) => {
        if (mine) show(notice, onClick);
      });
    },
    playSound: (tag) => {
      if (!tag) playTone();
      else
        void claim(tag).then((mine) => {
          if (mine) playTone();
        });
    },
    now: () => Date.now(),
  };
}
