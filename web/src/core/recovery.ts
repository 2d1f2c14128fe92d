/**
 * What to do after a room's `joined` (docs/protocol.md §8): the server either
 * replayed what was missed since `since_seq` (`recovered`), or the client reads
 * the gap over HTTP (`after_seq`) — unless the history changed under it (another
 * epoch, a seq above the head, a gap too large to read page by page), in which
 * case it drops what it held and loads the latest page.
 *
 * Pure decisions, so every case is a unit test; `ChatClient` carries them out.
 */

/** Gaps larger than this are not read page by page; the latest page replaces them. */
export const FILL_MAX = 1000;
/** Page size when reading a gap forward. */
export const FILL_PAGE = 500;

/** What the client holds of a room when `joined` arrives. */
export interface HeldHistory {
  /** See `Timeline.contiguousSeq`; `null` when nothing is known yet. */
  contiguousSeq: number | null;
  /** The room's epoch as last seen; `0` when unknown. */
  epoch: number;
}

/** The parts of a `joined` frame the decision reads. */
export interface JoinedRoom {
  recovered: boolean;
  /** The room's head seq. */
  seq: number;
  /** `0` when the server did not say. */
  epoch: number;
}

export type AfterJoined =
  /** The replay that follows covers the gap. */
  | { action: 'replay'; epoch: number }
  /** Read what is missing up to `head` (`catchUpStep`), after dropping everything if `reset`. */
  | { action: 'catch-up'; reset: boolean; epoch: number; head: number };

/** The decision after `joined`. `epoch` is the one to keep from now on. */
export function afterJoined(held: HeldHistory, joined: JoinedRoom): AfterJoined {
  const epoch = joined.epoch || held.epoch;
  if (joined.recovered) return { action: 'replay', epoch };
  const had = held.contiguousSeq;
  let reset = false;
  if (had !== null) {
    const epochChanged = joined.epoch !== 0 && held.epoch !== 0 && joined.epoch !== held.epoch;
    reset = epochChanged || had > joined.seq || joined.seq - had > FILL_MAX;
  }
  return { action: 'catch-up', reset, epoch, head: joined.seq };
}

export type CatchUpStep = 'load-latest' | 'fill-forward' | 'none';

/** How to catch up to `head` from what is held now (it may have moved since `joined`). */
export function catchUpStep(contiguousSeq: number | null, head: number): CatchUpStep {
  if (contiguousSeq === null) return 'load-latest';
  if (contiguousSeq < head) return 'fill-forward';
  return 'none';
}
