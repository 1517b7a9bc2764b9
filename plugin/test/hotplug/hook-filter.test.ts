// vif-post.d/xlnet.hook runs for every vif on the host, so it decides in
// bash, cheaply, whether a vif may ask for the service before it starts
// `xlnet hotplug` (node). That filter must never skip a vif the exact
// decision (decideLocalack) would turn on, and should skip the others.
// The hook is sourced the way vif-bridge's call_hooks sources it, after
// Xen's own xen-hotplug-common.sh, against a real xenstored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startLabXenstored } from '../../../lab/xenstore/xenstored.ts';
import { XenstoreClient } from '../../src/xen/xenstore.js';
import { writeVifBackend } from '../../src/xen/vif-backend.js';
import { parseXlnetConf, builtinConfig } from '../../src/config/index.js';
import { decideLocalack } from '../../src/hotplug/decision.js';

const run = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

interface Case {
  what: string;
  conf?: string;
  name?: string;
  devid?: number;
  localack?: string;
  viaScript?: boolean;
  command?: 'online' | 'offline';
  xlnetStatus?: string;
  asks: boolean;
}

const CASES: Case[] = [
  { what: 'no xlnet.conf, no key: skipped', name: 'web1', asks: false },
  { what: 'xlnet.conf without [domain] sections: skipped', conf: '[defaults]\nrequired = no\n', name: 'web1', asks: false },
  { what: 'a [domain] section naming the domain', conf: '[domain web1]\nlocalack = 1\n', name: 'web1', asks: true },
  { what: 'a [domain] section naming another domain', conf: '[domain web1]\nlocalack = 1\n', name: 'web2', asks: false },
  { what: 'a glob with * that matches', conf: '[domain web-*]\n', name: 'web-3', asks: true },
  { what: 'a glob with * that does not match', conf: '[domain web-*]\n', name: 'webx', asks: false },
  { what: 'a glob with ? matches one character', conf: '[domain db-?]\n', name: 'db-1', asks: true },
  { what: 'a glob with ? does not match two', conf: '[domain db-?]\n', name: 'db-10', asks: false },
  { what: 'a glob matching everything', conf: '[domain *]\nlocalack = 0\n', name: 'anything', asks: true },
  { what: 'a header with a comment and spaces', conf: '  [ domain  web1 ]  ; the web server\n', name: 'web1', asks: true },
  { what: 'a rule limited to other vifs still asks xlnet (it knows vifs =)', conf: '[domain two]\nvifs = 1\n', name: 'two', devid: 0, asks: true },
  { what: 'a domain with no name in xenstore cannot match rules', conf: '[domain *]\n', asks: false },
  { what: 'backend localack=1', localack: '1', name: 'web1', asks: true },
  { what: 'backend localack=required', localack: 'required', asks: true },
  { what: 'backend localack=PROFILE', localack: 'sat', asks: true },
  { what: 'backend localack=0 beats a rule', conf: '[domain web1]\nlocalack = 1\n', localack: '0', name: 'web1', asks: false },
  { what: 'started by vif-localack', viaScript: true, name: 'web1', asks: true },
  { what: 'offline of a vif attached earlier, rule gone', command: 'offline', xlnetStatus: 'attached:default', name: 'web1', asks: true },
  { what: 'offline of a vif that was never attached', command: 'offline', xlnetStatus: 'disabled', name: 'web1', asks: false },
];

test('hook filter: asks xlnet exactly for the vifs that may want the service', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xhp-hook-'));
  const xsd = await startLabXenstored(join(dir, 'xenstore'));
  const xs = await XenstoreClient.connect({ path: xsd.socketPath });
  try {
    // Xen's scripts as installed, with the log and hook paths pointed at the copy.
    const scripts = join(dir, 'scripts');
    cpSync('/etc/xen/scripts', scripts, { recursive: true });
    const common = join(scripts, 'xen-hotplug-common.sh');
    writeFileSync(common, readFileSync(common, 'utf8')
      .replaceAll('/etc/xen/scripts', scripts)
      .replaceAll('/var/log/xen/xen-hotplug.log', join(dir, 'xen-hotplug.log')));
    mkdirSync(join(scripts, 'vif-post.d'));
    cpSync(join(REPO, 'hotplug-scripts/vif-post.d/xlnet.hook'), join(scripts, 'vif-post.d/xlnet.hook'));
    // What call_hooks does, minus the base script's network setup. type_if
    // is not `vif` while sourcing, so only the hook's functions are defined.
    const probe = join(scripts, 'probe-xlnet-hook');
    writeFileSync(probe, `#!/bin/bash
dir=$(dirname "$0")
. "$dir/xen-hotplug-common.sh"
command=$1
type_if=probe
. "$dir/vif-post.d/xlnet.hook"
type_if=vif
if xlnet_asks; then echo asks; else echo skips; fi
`, { mode: 0o755 });

    let domid = 1;
    for (const c of CASES) {
      domid++;
      const devid = c.devid ?? 0;
      const confPath = join(dir, `xlnet-${domid}.conf`);
      if (c.conf !== undefined) writeFileSync(confPath, c.conf);
      if (c.name !== undefined) await xs.write(`/local/domain/${domid}/name`, c.name);
      await writeVifBackend(xs, { domid, devid, mac: '00:16:3e:00:00:01', localack: c.localack });
      if (c.xlnetStatus !== undefined) await xs.write(`/local/domain/0/backend/vif/${domid}/${devid}/xlnet-status`, c.xlnetStatus);
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH, XENSTORED_PATH: xsd.socketPath, XLNET_CONF: confPath,
        XENBUS_PATH: `backend/vif/${domid}/${devid}`, vif: `vif${domid}.${devid}`,
        ...(c.viaScript ? { XLNET_LOCALACK_SCRIPT: join(scripts, 'vif-localack') } : {}),
      };
      const { stdout } = await run(probe, [c.command ?? 'online'], { env });
      const got = stdout.trim();
      assert.is(got, c.asks ? 'asks' : 'skips', c.what);

      // Never skip what the exact decision turns on.
      const cfg = c.conf === undefined ? builtinConfig() : parseXlnetConf(c.conf, confPath);
      const d = decideLocalack({ devid, localack: c.localack, script: c.viaScript ? 'vif-localack' : 'vif-bridge', domainName: c.name }, cfg);
      if (d.enabled) assert.is(got, 'asks', `${c.what}: decideLocalack turns it on, the hook must ask`);
    }
    const log = readFileSync(join(dir, 'xen-hotplug.log'), 'utf8');
    assert.not.match(log, /error detected|No such file|syntax error/, log);
  } finally {
    await xs.close();
    await xsd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
