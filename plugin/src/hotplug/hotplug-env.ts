// The environment libxl gives a vif hotplug script (shared/docs/xen.md,
// "Hotplug contract"), read into a typed object. Our scripts pass it on
// unchanged to `xlnet hotplug`.

export class HotplugEnvError extends Error {
  constructor(message: string) {
    super(message);
  }
}

export interface HotplugEnv {
  /** XENBUS_PATH as given: `backend/vif/<domid>/<devid>` (relative to the
   * backend domain's home) or absolute. */
  xenbusPath: string;
  domid: number;
  devid: number;
  /** $vif: the netdev name netback created, `vif<domid>.<devid>`. */
  vif: string;
  /** $script: the hotplug script libxl ran (absolute). */
  script?: string;
  /** Set by vif-localack: the vif asked for the service by its script. */
  localackScript?: string;
}

const XENBUS_PATH_RE = /^(?:\/local\/domain\/\d+\/)?backend\/vif\/(\d+)\/(\d+)$/;
const VIF_RE = /^vif(\d+)\.(\d+)$/;

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Reads XENBUS_PATH, vif and script. Throws HotplugEnvError naming the
 * variable when one is missing or malformed (the script was not started by
 * libxl or one of Xen's vif scripts).
 */
export function readHotplugEnv(env: NodeJS.ProcessEnv): HotplugEnv {
  const type = nonEmpty(env, 'XENBUS_TYPE');
  if (type !== undefined && type !== 'vif') {
    throw new HotplugEnvError(`XENBUS_TYPE=${type}: xlnet hotplug only handles vif devices`);
  }
  const xenbusPath = nonEmpty(env, 'XENBUS_PATH');
  if (xenbusPath === undefined) {
    throw new HotplugEnvError(
      'XENBUS_PATH is not set: `xlnet hotplug` runs from a vif hotplug script (vif-localack or vif-post.d/xlnet.hook), ' +
        'which libxl starts with XENBUS_PATH=backend/vif/<domid>/<devid>',
    );
  }
  const m = XENBUS_PATH_RE.exec(xenbusPath.replace(/\/+$/, ''));
  if (!m) {
    throw new HotplugEnvError(`XENBUS_PATH=${xenbusPath} is not a vif backend path (backend/vif/<domid>/<devid>)`);
  }
  const domid = Number(m[1]);
  const devid = Number(m[2]);
  const vif = nonEmpty(env, 'vif') ?? `vif${domid}.${devid}`;
  const v = VIF_RE.exec(vif);
  if (v && (Number(v[1]) !== domid || Number(v[2]) !== devid)) {
    throw new HotplugEnvError(`vif=${vif} does not belong to XENBUS_PATH=${xenbusPath} (expected vif${domid}.${devid})`);
  }
  const out: HotplugEnv = { xenbusPath: xenbusPath.replace(/\/+$/, ''), domid, devid, vif };
  const script = nonEmpty(env, 'script');
  if (script !== undefined) out.script = script;
  const localackScript = nonEmpty(env, 'XLNET_LOCALACK_SCRIPT');
  if (localackScript !== undefined) out.localackScript = localackScript;
  return out;
}
