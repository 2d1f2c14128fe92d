import { createContext, memo, useContext, useMemo } from 'react';
import { textRuns } from '../../core/text';

/** Who can be mentioned where the text is shown: the names to look for after an `@` (longest first), and yours. */
export interface MentionScope {
  names: readonly string[];
  myName: string | null;
}

const NO_SCOPE: MentionScope = { names: [], myName: null };

/** The mention scope of the messages below it (the message list gives the open room's). */
export const MentionContext = createContext<MentionScope>(NO_SCOPE);

/**
 * A message's text: text nodes, with links (http and https only, opened in a
 * new tab with neither opener nor referrer) and @mentions marked — a mention
 * of you more strongly. Never HTML: markup in a message shows as the text it is.
 */
export const MessageText = memo(function MessageText({ text }: { text: string }) {
  const { names, myName } = useContext(MentionContext);
  const runs = useMemo(() => textRuns(text, names, myName), [text, names, myName]);
  return runs.map((run, i) => {
    if (run.kind === 'link') {
      return (
        <a
          key={i}
          href={run.href}
          target="_blank"
          rel="noopener noreferrer"
          data-testid="message-link"
          className="rounded-sm text-indigo-700 underline decoration-indigo-400/60 underline-offset-2 hover:text-indigo-900 hover:decoration-current dark:text-indigo-300 dark:decoration-indigo-300/50 dark:hover:text-indigo-100"
        >
          {run.text}
        </a>
      );
    }
    if (run.kind === 'mention') {
      return (
        <span
          key={i}
          data-testid="mention"
          data-self={run.self ? 'true' : undefined}
          className={
            run.self
              ? 'rounded bg-amber-200 px-0.5 font-semibold text-amber-950 dark:bg-amber-400/25 dark:text-amber-100'
              : 'rounded bg-indigo-50 px-0.5 font-medium text-indigo-800 dark:bg-indigo-400/15 dark:text-indigo-200'
          }
        >
          {run.text}
        </span>
      );
    }
    return run.text;
  });
});
