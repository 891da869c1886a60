/**
 * The `chargeback` process: runs the command line on this process's arguments and streams. The
 * installed bin/chargeback.js loads the compiled copy; tests run this file from source with
 * `node --import tsx src/cli/entry.ts`, so they never exercise a stale build.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
