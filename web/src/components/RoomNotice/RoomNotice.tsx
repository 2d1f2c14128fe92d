import { memo } from 'react';
import type { RoomNotice } from '../../core/chat';
import { formatFull, formatTime } from '../../lib/format';
import { Icon } from '../Icon';

/**
 * A member or room event in the message list, as one quiet line between the
 * messages ("Ada added Bob", "Ada renamed the room to Plans"). Text only.
 */
export const RoomNoticeItem = memo(function RoomNoticeItem({ notice }: { notice: RoomNotice }) {
  return (
    <li
      data-testid="room-notice"
      data-kind={notice.kind}
      className="flex items-center gap-2 px-4 py-1 text-[13px] text-zinc-500 sm:px-6 dark:text-zinc-400"
    >
      <span className="flex w-9 shrink-0 justify-center">
        <Icon name={notice.kind === 'room' ? 'pencil' : 'users'} className="size-4 opacity-70" />
      </span>
      <span data-testid="room-notice-text" className="min-w-0 [overflow-wrap:anywhere]">
        {notice.text}
      </span>
      <time
        dateTime={notice.createdAt}
        title={formatFull(notice.createdAt)}
        className="shrink-0 text-[11px] text-zinc-500 tabular-nums dark:text-zinc-400"
      >
        {formatTime(notice.createdAt)}
      </time>
    </li>
  );
});
