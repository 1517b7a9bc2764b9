// `xlnet hotplug online|offline`: what the vif hotplug scripts run. The work
// is the hotplug module's (runHotplug); this verb only hands it the
// environment libxl gave the script and returns its exit code. No spinner,
// no prompt: stdin is /dev/null and the output goes to xen-hotplug.log.
import { CliError, usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { Verb } from '../verb.js';

type RunHotplug = (action: 'online' | 'offline', env: NodeJS.ProcessEnv) => Promise<number>;

// Loaded when used, so every other verb works while the hotplug module is
// missing or broken (and `xlnet status` does not pay for loading it).
const HOTPLUG_MODULE = '../../hotplug/index.js';

async function loadRunHotplug(): Promise<RunHotplug> {
  let mod: { runHotplug?: RunHotplug };
  try {
    mod = (await import(HOTPLUG_MODULE)) as { runHotplug?: RunHotplug };
  } catch (e) {
    throw new CliError(EXIT.FAILED, `hotplug: the hotplug module is not installed (${(e as Error).message.split('\n')[0]})`,
      'reinstall xlnet (plugin/dist/hotplug/ is missing)');
  }
  if (typeof mod.runHotplug !== 'function') {
    throw new CliError(EXIT.FAILED, 'hotplug: the hotplug module has no runHotplug()', 'xlnet and its hotplug module come from different versions: reinstall xlnet');
  }
  return mod.runHotplug;
}

export const hotplugVerb: Verb = {
  name: 'hotplug',
  summary: 'hotplug online|offline: run by the vif hotplug scripts (vif-localack, vif-post.d/xlnet.hook)',
  synopsis: ['hotplug online|offline'],
  description: [
    'Reads the environment libxl gives a vif hotplug script (XENBUS_PATH, vif, script, ...), decides from the vif\'s',
    'backend directory and xlnet.conf whether the vif gets the service and attaches or detaches it. Not for',
    'interactive use; the exit code is the hook\'s (non-zero fails the vif only when localack is required).',
  ],
  options: {},
  json: false,
  daemon: true,
  args: { min: 1, max: 1 },
  async run(ctx) {
    const action = ctx.positionals[0];
    if (action !== 'online' && action !== 'offline') {
      throw usageError(`xlnet hotplug: '${action}' is not online or offline`, 'hotplug');
    }
    const env = { ...ctx.io.env };
    if (ctx.values.socket !== undefined) env.XLNET_SOCKET = ctx.values.socket as string;
    if (ctx.values.config !== undefined) env.XLNET_CONF = ctx.values.config as string;
    const runHotplug = await loadRunHotplug();
    return await runHotplug(action, env);
  },
};
