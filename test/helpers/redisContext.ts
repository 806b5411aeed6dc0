/** What `test/globalSetup.ts` hands every test file through vitest's `provide`/`inject`. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** The one Redis of this run (never on port 6379). */
    redisUrl: string;
  }
}

export {};
