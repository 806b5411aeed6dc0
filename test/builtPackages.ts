import { staleBuilds } from '../scripts/buildState.ts';

/**
 * Tests import the packages as users do, from their build (`dist/`), and start the bins, which run the build:
 * a missing or stale build fails the run at once with what to do, instead of testing old code.
 */
export default function checkBuilt(): void {
  const stale = staleBuilds();
  if (stale.length > 0) throw new Error(`${stale.join('; ')}: run \`npm run build\` (\`npm test\` builds first).`);
}
