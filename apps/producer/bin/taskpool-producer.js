#!/usr/bin/env node
// taskpool-producer: runs the build (`dist/`) with plain Node.
import '../dist/main.js';
