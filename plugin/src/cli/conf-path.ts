// Where xlnet.conf is when neither --config nor $XLNET_CONF says: the same
// path as config/'s DEFAULT_CONF_PATH (lazy-load.test.ts checks they agree).
// Kept here because importing config/ for this one string would load the
// whole config module (17 files and `ini`) on every start, even for
// `xlnet help`; the verbs that read the file load config/ themselves.
export const DEFAULT_CONF_PATH = '/etc/xen/xlnet.conf';
