// webTasks.ts: the tasks of the README's "Workflows", for typed.ts. Pages are made up: nothing here touches the
// network. Erasable TypeScript (`import type`, annotations), as Node's type stripping takes it.
import { defineTask } from '@taskpool/core/task';
import type { TaskContext } from '@taskpool/core/task';
import { z } from 'zod';

const page = z.object({ url: z.string(), html: z.string() });
const text = z.object({ url: z.string(), text: z.string() });
const count = z.object({ url: z.string(), words: z.number().int() });

function wordsOf(body: string): string[] {
  return body.split(/\s+/).filter((word: string) => word.length > 0);
}

export const fetchPage = defineTask({
  name: 'web.fetchPage',
  input: z.object({ url: z.string() }),
  output: page,
  run: ({ url }, { signal }: TaskContext) => {
    signal.throwIfAborted();
    return { url, html: `<p>Made-up page of ${url}</p>` };
  },
});

export const extractText = defineTask({
  name: 'web.extractText',
  input: page,
  output: text,
  run: ({ url, html }) => ({ url, text: html.replace(/<[^>]*>/g, ' ') }),
});

/** Counts the words of `text`, or of the page at `url` when no text is given. */
export const countWords = defineTask({
  name: 'web.countWords',
  input: z.object({ url: z.string(), text: z.string().optional() }),
  output: count,
  run: ({ url, text }) => ({ url, words: wordsOf(text ?? `Made-up page of ${url}`).length }),
});

export const detectLanguage = defineTask({
  name: 'web.detectLanguage',
  input: z.object({ text: z.string() }),
  output: z.object({ language: z.string() }),
  run: () => ({ language: 'en' }),
});

export const sumCounts = defineTask({
  name: 'web.sumCounts',
  input: z.array(count),
  output: z.number().int(),
  run: (counts) => counts.reduce((sum, { words }) => sum + words, 0),
});

export const report = defineTask({
  name: 'web.report',
  input: z.tuple([count, z.object({ language: z.string() })]),
  output: z.string(),
  run: ([{ url, words }, { language }]) => `${url}: ${words} words in ${language}`,
});
