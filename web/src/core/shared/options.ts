/** How a browser's hub connects: to the page's own origin, with liveness and `/healthz` probes. */
import { BROWSER_CONNECTION, websocketUrl } from '../connection';
import { HistoryApi } from '../history';
import type { HubOptions } from './hub';

export function hubOptionsFor(origin: string): HubOptions {
  const api = new HistoryApi(origin);
  return {
    url: websocketUrl(origin),
    probe: () => api.reachable(),
    connection: { ...BROWSER_CONNECTION },
  };
}
