#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm ci` through the prepare script): dist/src/cli/entry.js.
import '../dist/src/cli/entry.js';
