/** Files out of a paste or a drop (a `DataTransfer`). */

/** Whether a drag carries files (not text or a link being dragged about the page). */
export function carriesFiles(transfer: DataTransfer | null): boolean {
  return Boolean(transfer && Array.from(transfer.types ?? []).includes('Files'));
}

/** The files a paste or a drop carries: its `files`, or else those among its `items`. */
export function filesOf(transfer: DataTransfer | null): File[] {
  if (!transfer) return [];
  const files = Array.from(transfer.files ?? []);
  if (files.length > 0) return files;
  return Array.from(transfer.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => item.getAsFile())
    .filter((file): file is File => file !== null);
}
