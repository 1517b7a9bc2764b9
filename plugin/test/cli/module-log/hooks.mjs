// Module hooks (node:module register()) that record each loaded module's URL.
// They run on the loader thread, so they write straight to the log file
// rather than messaging the main thread: the list is complete even when the
// program exits with process.exit().
import { appendFileSync } from 'node:fs';

let logFile;

export function initialize(data) {
  logFile = data.logFile;
}

export async function load(url, context, nextLoad) {
  appendFileSync(logFile, url + '\n');
  return nextLoad(url, context);
}
