#!/usr/bin/env node
// The `taskpool` CLI: talks to a producer's HTTP API. Runs the build (`dist/`) with plain Node.
import '../dist/cli/main.js';
