// hotplug/ - the vif hotplug step of xlnet (`xlnet hotplug online|offline`):
// reads the environment libxl gives vif scripts and the vif's backend in
// xenstore, decides from the backend's `localack` key, the vif's script and
// xlnet.conf whether the vif gets local acknowledgement, asks xlnetd to attach
// or detach, and records the outcome in the backend's `xlnet-status` key.
// The bash side is in hotplug-scripts/ (vif-localack, vif-post.d/xlnet.hook).
export { runHotplug, hotplug, EXIT_OK, EXIT_REQUIRED_FAILED, EXIT_CANNOT_TELL, type HotplugAction, type HotplugOptions, type HotplugResult } from './run-hotplug.js';
export { decideLocalack, isLocalackScript, LOCALACK_SCRIPTS, type Activation, type HotplugDecision, type VifFacts } from './decision.js';
export { readHotplugEnv, HotplugEnvError, type HotplugEnv } from './hotplug-env.js';
export { XLNET_STATUS_KEY, formatXlnetStatus, parseXlnetStatus, type XlnetStatus } from './xlnet-status.js';
