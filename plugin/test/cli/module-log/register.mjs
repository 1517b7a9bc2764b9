// `node --import ./register.mjs APP`: appends the URL of every module APP
// loads, one per line, to the file named by $XLNET_MODULE_LOG. Used by
// lazy-load.test.ts and startup-bench.mjs to see what a verb pulls in.
import { createRequire, register } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const logFile = process.env.XLNET_MODULE_LOG;
if (!logFile) throw new Error('module-log/register.mjs: set XLNET_MODULE_LOG to the file to write the module list to');
// ES modules (and CommonJS ones reached by import) pass through the load hook.
register('./hooks.mjs', import.meta.url, { data: { logFile } });
// CommonJS files require()d by CommonJS do not (Node 20): they are in the
// require cache when the process ends.
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  const files = Object.keys(cache).map((f) => pathToFileURL(f).href);
  if (files.length) appendFileSync(logFile, files.join('\n') + '\n');
});
