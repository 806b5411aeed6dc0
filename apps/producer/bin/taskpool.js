#!/usr/bin/env node
// The `taskpool` CLI: talks to a producer's HTTP API. Runs the TypeScript sources directly through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
