import { useEffect, useState } from 'react';
import type { ConnectionStatus } from '../core/connection';
import { useChatSelector } from './use-chat';

export interface ConnectionStatusView {
  status: ConnectionStatus;
  /** Short text for the badge: "Online", "Connecting…", "Reconnecting in 4s". */
  label: string;
  tone: 'online' | 'pending' | 'offline';
}

/** The connection status, with a countdown that ticks while waiting to reconnect. */
export function useConnectionStatus(): ConnectionStatusView {
  const status = useChatSelector((s) => s.status);
  const [now, setNow] = useState(() => Date.now());
  const retryAt = status.state === 'reconnecting' ? status.retryAt : null;

  useEffect(() => {
    if (retryAt === null) return;
    const tick = () => setNow(Date.now());
    const first = setTimeout(tick, 0);
    const timer = setInterval(tick, 500);
    return () => {
      clearTimeout(first);
      clearInterval(timer);
    };
  }, [retryAt]);

  switch (status.state) {
    case 'online':
      return { status, label: 'Online', tone: 'online' };
    case 'connecting':
      return { status, label: status.attempt === 0 ? 'Connecting…' : 'Reconnecting…', tone: 'pending' };
    case 'reconnecting': {
      const seconds = Math.max(1, Math.ceil((status.retryAt - now) / 1000));
      return { status, label: `Reconnecting in ${seconds}s`, tone: 'offline' };
    }
    case 'idle':
      return { status, label: 'Not connected', tone: 'offline' };
    case 'stopped':
      return { status, label: 'Offline', tone: 'offline' };
  }
}
