#!/usr/bin/env node
// taskpool-worker: runs the build (`dist/`) with plain Node.
import '../dist/main.js';
