#!/usr/bin/env node
// Runs the TypeScript sources directly: tsx compiles them (and the user's task module) on load.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
