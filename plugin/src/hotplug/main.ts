// `xlnet hotplug` on its own, for tests and for hosts without the CLI:
//   node plugin/dist/hotplug/main.js [hotplug] online|offline
// Exit codes and output as in run-hotplug.ts.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_CANNOT_TELL, runHotplug, type HotplugAction } from './run-hotplug.js';

const USAGE = 'usage: xlnet hotplug online|offline   (run by vif-localack / vif-post.d/xlnet.hook with libxl\'s environment)';

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = argv[0] === 'hotplug' ? argv.slice(1) : [...argv];
  const action = args[0];
  if (args.length !== 1 || (action !== 'online' && action !== 'offline')) {
    process.stderr.write(`${USAGE}\n`);
    process.stdout.write(`xlnet hotplug: expected online or offline, got ${args.length === 0 ? 'nothing' : args.join(' ')}\n`);
    return EXIT_CANNOT_TELL;
  }
  return runHotplug(action as HotplugAction, env);
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`xlnet hotplug: internal error: ${(err as Error).stack ?? String(err)}\n`);
      process.stdout.write(`xlnet hotplug: internal error: ${(err as Error).message}\n`);
      process.exit(EXIT_CANNOT_TELL);
    },
  );
}
