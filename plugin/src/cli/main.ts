#!/usr/bin/env node
// cli/ - `xlnet`, the operator's command line: a verb per action (status,
// flows, top, attach, detach, set, check, config check, hotplug, setup,
// version, help), --json on every read command, exit codes in exit-codes.ts.
import { processIo } from './io.js';
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), processIo());
// Let pending writes to a pipe finish before exiting.
process.exitCode = code;
