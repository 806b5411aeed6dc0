// typed.ts: the README's examples as a consumer compiles them (`tsc --noEmit -p .`; it is never run).
// Each `@ts-expect-error` marks a line the README says does not compile: if it ever compiled, tsc would
// report the directive as unused and fail.
import { chain, chord, createClient, group, type WorkflowHandle } from '@taskpool/core';
import { sumSqrt } from './tasks.ts';
import { countWords, detectLanguage, extractText, fetchPage, report, sumCounts } from './webTasks.ts';

const client = createClient({ redisUrl: 'redis://127.0.0.1:6379' });

// "Twenty lines"
const handle = await client.submit(sumSqrt, { n: 1e6 });
const output: { sum: number; pid: number } = await handle.result({ timeoutMs: 10_000 });
console.log(output.sum.toFixed(2), output.pid);
// @ts-expect-error -- { n: 'x' } does not compile
await client.submit(sumSqrt, { n: 'x' });
// @ts-expect-error -- the output is an object, not a string
const notAString: string = await handle.result();

// "Workflows": fan out, then fan in: sumCounts gets the members' outputs in order.
const urls = ['https://example.com/a', 'https://example.com/b'];
const url = 'https://example.com/';
const counted: WorkflowHandle<number> = await client.run(chord(group(urls.map((url) => countWords.with({ url }))), sumCounts));
const words: number = await counted.result();
// Each step gets the previous output.
const reported: WorkflowHandle<string> = await client.run(chain(fetchPage.with({ url }), extractText, group([countWords, detectLanguage]), report));
console.log(words, await reported.result(), notAString);
// @ts-expect-error -- a step whose input type does not accept the previous output: detectLanguage takes { text }, fetchPage gives { url, html }
chain(fetchPage.with({ url }), detectLanguage);
// @ts-expect-error -- a chord's callback must take what its group gives: sumCounts takes word counts, not pages
chord(group(urls.map((url) => fetchPage.with({ url }))), sumCounts);
// @ts-expect-error -- report takes a [count, language] pair; a group of one member gives [count]
chain(fetchPage.with({ url }), extractText, group([countWords]), report);
// @ts-expect-error -- a workflow that still needs an input does not run: extractText's page comes from nowhere
await client.run(chain(extractText, countWords));

await client.close();
