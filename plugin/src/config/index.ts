// config/ - xlnet's configuration, as pure functions: /etc/xen/xlnet.conf
// (schema table, validation with file:line errors, profiles, [domain] rules,
// rendering for the wizard and templates/xlnet.conf) and xl domain configs
// (`vif = [...]` specs read the way Xen 4.17's xl reads them, for `xlnet check`).
export { ConfigError, ValueError, type ConfigErrorCode } from './config-error.js';
export { parseSize, parseDuration, formatSize, formatDuration } from './units.js';
export { parsePortList, formatPortList, portInList, type PortRange } from './port-list.js';
export { parseCidrList, parseCidr, formatCidrList, type Cidr } from './cidr-list.js';
export {
  SCHEMA,
  keysOf,
  keySpec,
  type KeySpec,
  type SectionKind,
  type ValueKind,
  type DaemonSettings,
  type Defaults,
  type Profile,
  type ProfileKey,
  type ProfileSettings,
  type DomainRule,
  type LogLevel,
  type Engine,
} from './schema.js';
export { PROFILE_PRESETS, presetByName, type ProfilePreset } from './presets.js';
export {
  DEFAULT_CONF_PATH,
  DEFAULT_PROFILE,
  builtinConfig,
  builtinProfile,
  checkXlnetConf,
  parseXlnetConf,
  loadXlnetConf,
  resolveLocalack,
  domainRuleFor,
  domainRuleForName,
  type XlnetConfig,
  type XlnetConfCheck,
  type LocalackResolution,
} from './xlnet-conf.js';
export {
  renderXlnetConf,
  renderTemplate,
  templateConfig,
  presetSettings,
  completeConfig,
  type PartialXlnetConfig,
  type RenderOptions,
} from './render.js';
export { readXlConfigText, parseXlDomainConfig, XlConfigError, type XlDomainConfig } from './xl-cfg.js';
export { parseVifRate, type VifRate } from './vif-rate.js';
export {
  XL_VIF_KEYS,
  parseVifSpec,
  parseXlMac,
  checkDomainConfig,
  type VifSpec,
  type VifCheck,
  type CheckReport,
  type CheckOptions,
} from './vif-spec.js';
