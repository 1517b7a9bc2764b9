// The hotplug path end to end in the virtual Dom0 lab: guest vifs come up
// and go down through Xen's own vif-bridge / vif-route with xlnet's
// vif-localack and vif-post.d/xlnet.hook installed next to them, against a
// real xenstored, with no xlnetd running (or one that never answers).
// What is checked is what libxl and the operator see: hotplug-status,
// hotplug-error, the xlnet-status key, the bridge/route, the guest's
// network, the hotplug log, and the time each step takes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HotplugError, Lab, REPO, NET, ensureBuilt, type Guest, type GuestSpec } from '../lab.js';
import { run } from '../exec.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { AttachmentInfo } from '../../plugin/src/daemon/protocol.js';

const HOTPLUG_LOG = '/var/log/xen/xen-hotplug.log';
const ONLINE_BUDGET_MS = 10_000;

let lab: Lab;
let work: string;

/**
 * A wrapper `xlnet` for the hotplug scripts. By default it runs the hotplug
 * module's own entry point (plugin/src/hotplug/main.ts, the runHotplug the
 * CLI's `xlnet hotplug` verb calls) with tsx; used when the compiled CLI is
 * not there. With a body, whatever that shell line does.
 */
function xlnetWrapper(dir: string, body?: string): string {
  const wrapper = join(dir, 'xlnet');
  writeFileSync(wrapper, `#!/bin/sh\n${body ?? `exec node --import ${join(REPO, 'node_modules/tsx/dist/loader.mjs')} ${join(REPO, 'plugin/src/hotplug/main.ts')} "$@"`}\n`);
  chmodSync(wrapper, 0o755);
  return dir;
}

function logSize(): number {
  return existsSync(HOTPLUG_LOG) ? statSync(HOTPLUG_LOG).size : 0;
}

function logSince(offset: number): string {
  if (!existsSync(HOTPLUG_LOG)) return '';
  return readFileSync(HOTPLUG_LOG).subarray(offset).toString('utf8');
}

async function backend(g: Guest, key: string): Promise<string | undefined> {
  return lab.requireXs().tryRead(`/local/domain/0/backend/vif/${g.domid}/${g.devid}/${key}`);
}

async function timedAdd(spec: GuestSpec): Promise<{ g: Guest; ms: number }> {
  const t = Date.now();
  const g = await lab.addGuest(spec);
  return { g, ms: Date.now() - t };
}

async function addFails(spec: GuestSpec): Promise<{ err: HotplugError; ms: number }> {
  const t = Date.now();
  const err = await lab.addGuest(spec).then(
    () => assert.unreachable(`vif of domain ${spec.domid} came up although localack is required`),
    (e: unknown) => e,
  );
  assert.instance(err, HotplugError, String(err));
  return { err: err as HotplugError, ms: Date.now() - t };
}

async function enslaved(g: Guest): Promise<boolean> {
  const r = await run(['ip', '-o', 'link', 'show', 'master', 'xenbr0'], { ns: lab.ns.dom0, allowFail: true });
  return r.stdout.includes(`${g.vif}@`) || r.stdout.includes(`${g.vif}:`);
}

async function pingsDom0(g: Guest): Promise<boolean> {
  const r = await run(['ping', '-c', '1', '-W', '2', NET.dom0_4], { ns: g.ns, allowFail: true });
  return r.code === 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

test.before(async () => {
  work = mkdtempSync(join(tmpdir(), 'xhp-lab-'));
  // The real `xlnet hotplug` (the lab's wrapper runs plugin/dist/cli/main.js)
  // when the plugin builds; else this module's entry point through tsx.
  try { ensureBuilt(); } catch { /* reported below */ }
  const cli = existsSync(join(REPO, 'plugin/dist/cli/main.js')) && existsSync(join(REPO, 'plugin/dist/hotplug/index.js'));
  const bin = cli ? undefined : xlnetWrapper(mkdtempSync(join(work, 'bin-')));
  console.log(`  xlnet in the hotplug scripts: ${cli ? 'plugin/dist/cli/main.js (the lab\'s wrapper)' : 'plugin/src/hotplug/main.ts through tsx (no CLI build)'}`);
  lab = await Lab.up({
    prefix: 'xhp', link: 'lan',
    hotplugEnv: {
      ...(bin ? { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` } : {}),
      // No xlnetd anywhere near this path.
      XLNET_SOCKET: join(work, 'xlnetd.sock'),
      XLNET_CONF: join(work, 'xlnet.conf'),
    },
  });
});

test.after(async () => {
  await lab?.down();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('script=vif-localack without xlnetd: connected, bridged, warned, xlnet-status unavailable, < 10 s', async () => {
  const from = logSize();
  const { g, ms } = await timedAdd({ domid: 11, name: 'xhp-la11', script: 'vif-localack' });
  console.log(`  vif-localack online, xlnetd unreachable: ${ms} ms`);
  assert.ok(ms < ONLINE_BUDGET_MS, `online took ${ms} ms`);
  assert.is(await backend(g, 'hotplug-status'), 'connected');
  assert.match((await backend(g, 'xlnet-status')) ?? '', /^unavailable:cannot reach xlnetd at .*xlnetd\.sock/);
  assert.ok(await enslaved(g), 'vif-bridge enslaved the vif to xenbr0');
  assert.ok(await pingsDom0(g), 'the guest reaches Dom0 over the bridge');
  const log = logSince(from);
  assert.match(log, /xlnet hotplug online vif11\.0: warning: cannot reach xlnetd .* vif11\.0 comes up without local acknowledgement/);
  // Attached once: the decision is made by the hook alone, not again by vif-localack.
  assert.is(log.match(/xlnet hotplug online vif11\.0: domain xhp-la11 devid 0: on/g)?.length, 1, log);
  const off = await lab.removeGuest(11);
  assert.is(off?.code, 0, off?.stderr);
});

test('localack=required without xlnetd: the hotplug fails with hotplug-error naming the reason', async () => {
  for (const spec of [
    { domid: 12, name: 'xhp-req12', script: 'vif-localack', localack: 'required' },
    { domid: 13, name: 'xhp-req13', localack: 'required' }, // patched xl + plain vif-bridge: the hook alone
  ] as GuestSpec[]) {
    const { err, ms } = await addFails(spec);
    console.log(`  ${spec.script ?? 'vif-bridge'} localack=required, xlnetd unreachable: failed in ${ms} ms`);
    assert.ok(ms < ONLINE_BUDGET_MS, `online took ${ms} ms`);
    assert.match(err.hotplugError ?? '', new RegExp(`^vif${spec.domid}\\.0: local acknowledgement is required \\(backend localack=required\\) but cannot reach xlnetd at .*: no such socket`));
    const g = lab.guest(spec.domid);
    assert.is(await backend(g, 'hotplug-status'), 'error');
    // libxl then takes the vif down again: offline must not fail either.
    const off = await lab.removeGuest(spec.domid);
    assert.is(off?.code, 0, off?.stderr);
  }
});

test('a plain vif-bridge vif with the hook installed and no rule: untouched, and the hook costs little', async () => {
  // A host with rules for other domains: the hook has to read them.
  writeFileSync(join(work, 'xlnet.conf'), '[profile sat]\nbuffer = 16m\n\n[domain web-*]\nlocalack = sat\n\n[domain db1]\nlocalack = 1\n');
  try {
    const { g } = await timedAdd({ domid: 14, name: 'xhp-plain14' });
    assert.is(await backend(g, 'hotplug-status'), 'connected');
    assert.is(await backend(g, 'xlnet-status'), undefined, 'xlnet never looked at it (no xlnet-status)');
    assert.ok(await enslaved(g));
    // Same vif, online again, with the hook and without it (not executable:
    // call_hooks skips it), interleaved; medians of the whole script.
    const hook = join(lab.scriptsDir, 'vif-post.d', 'xlnet.hook');
    const withHook: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < 9; i++) {
      for (const on of [true, false]) {
        chmodSync(hook, on ? 0o755 : 0o644);
        const t = process.hrtime.bigint();
        await lab.hotplug(g, 'online');
        (on ? withHook : without).push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    chmodSync(hook, 0o755);
    const added = median(withHook) - median(without);
    console.log(`  vif-bridge online: median ${median(without).toFixed(1)} ms without the hook, ${median(withHook).toFixed(1)} ms with it (+${added.toFixed(1)} ms)`);
    assert.is(await backend(g, 'xlnet-status'), undefined);
    // The cost is printed for the notes, not asserted: a loaded 2-core
    // machine measured +290 ms once in a full run.
    const off = await lab.removeGuest(14);
    assert.is(off?.code, 0);
  } finally {
    rmSync(join(work, 'xlnet.conf'), { force: true });
  }
});

test('vif-localack without xlnet.hook installed refuses to bring the vif up unsplit, and says what to do', async () => {
  const hook = join(lab.scriptsDir, 'vif-post.d', 'xlnet.hook');
  chmodSync(hook, 0o644);
  try {
    const { err } = await addFails({ domid: 20, name: 'xhp-nohook20', script: 'vif-localack' });
    assert.match(err.hotplugError ?? '', /vif-localack needs .*\/vif-post\.d\/xlnet\.hook \(executable\), installed with it; reinstall xlnet's hotplug scripts or use script=vif-bridge/);
    assert.is((await lab.removeGuest(20))?.code, 0, 'offline works without the hook');
  } finally {
    chmodSync(hook, 0o755);
  }
});

test('a [domain NAME] rule turns a plain vif-bridge vif on through the hook', async () => {
  writeFileSync(join(work, 'xlnet.conf'), '[domain xhp-ruled*]\nlocalack = 1\n');
  try {
    const from = logSize();
    const { g, ms } = await timedAdd({ domid: 15, name: 'xhp-ruled15' });
    console.log(`  vif-bridge + [domain] rule, xlnetd unreachable: ${ms} ms`);
    assert.is(await backend(g, 'hotplug-status'), 'connected');
    assert.match((await backend(g, 'xlnet-status')) ?? '', /^unavailable:cannot reach xlnetd/);
    assert.match(logSince(from), /domain xhp-ruled15 devid 0: on \(\[domain xhp-ruled\*\] localack = 1\)/);
    const off = await lab.removeGuest(15);
    assert.is(off?.code, 0);
  } finally {
    rmSync(join(work, 'xlnet.conf'), { force: true });
  }
});

test('script=vif-localack-route sets the vif up as vif-route does', async () => {
  const { g } = await timedAdd({ domid: 16, name: 'xhp-rt16', mode: 'route', script: 'vif-localack-route' });
  assert.is(await backend(g, 'hotplug-status'), 'connected');
  assert.match((await backend(g, 'xlnet-status')) ?? '', /^unavailable:/);
  const routes = await run(['ip', '-4', 'route', 'show', 'dev', g.vif], { ns: lab.ns.dom0 });
  assert.match(routes.stdout, new RegExp(`^${g.ip4.replaceAll('.', '\\.')} `, 'm'), 'vif-route added the host route');
  assert.not.ok(await enslaved(g), 'a routed vif is not on the bridge');
  const off = await lab.removeGuest(16);
  assert.is(off?.code, 0);
});

test('an xlnetd that accepts but never answers: the vif still comes up within 10 s', async () => {
  const sock = join(work, 'hung.sock');
  const held: net.Socket[] = [];
  const server = net.createServer((s) => { held.push(s); });
  await new Promise<void>((r) => server.listen(sock, r));
  const saved = lab.hotplugEnv.XLNET_SOCKET;
  lab.hotplugEnv.XLNET_SOCKET = sock;
  try {
    const adding = timedAdd({ domid: 17, name: 'xhp-hung17', script: 'vif-localack' });
    // While the attach is pending, the vif is on the bridge but the guest's
    // network is not yet reported connected: `success` comes after xlnet.
    let pending: string | undefined;
    let sawAttachPending = false;
    for (let i = 0; i < 100 && !sawAttachPending; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sawAttachPending = held.length > 0;
    }
    if (sawAttachPending) pending = await lab.requireXs().tryRead('/local/domain/0/backend/vif/17/0/hotplug-status');
    const { g, ms } = await adding;
    console.log(`  vif-localack online, xlnetd never answers: ${ms} ms`);
    assert.ok(sawAttachPending, 'xlnet connected to the (mute) xlnetd');
    assert.is(pending, '', 'hotplug-status stays empty while xlnet waits for xlnetd');
    assert.ok(ms < ONLINE_BUDGET_MS, `online took ${ms} ms`);
    assert.is(await backend(g, 'hotplug-status'), 'connected');
    assert.match((await backend(g, 'xlnet-status')) ?? '', /^unavailable:xlnetd did not answer 'attach' within 6000 ms/);
    const t = Date.now();
    const off = await lab.removeGuest(17);
    console.log(`  offline, xlnetd never answers: ${Date.now() - t} ms`);
    assert.is(off?.code, 0);
  } finally {
    lab.hotplugEnv.XLNET_SOCKET = saved!;
    for (const s of held) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('a broken xlnet install (node crashes, or no xlnet at all) does not take a guest\'s network, unless required', async () => {
  const saved = lab.hotplugEnv.PATH;
  // What a half-installed build does: node exits 1 on a missing module.
  const crashing = xlnetWrapper(mkdtempSync(join(work, 'crash-')), `exec node ${join(work, 'no-such-build/cli/main.js')} "$@"`);
  try {
    for (const [path, why] of [
      [`${crashing}:/usr/sbin:/usr/bin:/sbin:/bin`, /^unavailable:xlnet hotplug online failed \(exit 1\)/],
      ['/usr/sbin:/usr/bin:/sbin:/bin', /^unavailable:cannot run xlnet \(not installed, or not in PATH=/],
    ] as const) {
      lab.hotplugEnv.PATH = path;
      const { g } = await timedAdd({ domid: 18, name: 'xhp-broken18', script: 'vif-localack' });
      assert.is(await backend(g, 'hotplug-status'), 'connected');
      assert.match((await backend(g, 'xlnet-status')) ?? '', why);
      assert.is((await lab.removeGuest(18))?.code, 0);
      const { err } = await addFails({ domid: 19, name: 'xhp-broken19', localack: 'required' });
      assert.match(err.hotplugError ?? '', /^vif19\.0: local acknowledgement is required but (xlnet hotplug online failed \(exit 1\)|cannot run xlnet)/);
      assert.is((await lab.removeGuest(19))?.code, 0);
    }
  } finally {
    if (saved === undefined) delete lab.hotplugEnv.PATH;
    else lab.hotplugEnv.PATH = saved;
  }
});

// ---- with the real xlnetd (plugin/src/daemon, started in Dom0 by the lab) ----

const DAEMON_CONF = '[profile sat]\nbuffer = 16m\n\n[domain xhp-web*]\nlocalack = sat\n';
let socket = '';
let daemon: { pid: number; logPath: string } | undefined;
const list = () => call<AttachmentInfo[]>({ op: 'list' }, { socket });

test('xlnetd running: script=vif-localack attaches the vif once, before connected; offline detaches it', async () => {
  daemon = await lab.startDaemon(DAEMON_CONF);
  socket = daemon.socket;
  const from = logSize();
  const { g, ms } = await timedAdd({ domid: 21, name: 'xhp-att21', script: 'vif-localack' });
  console.log(`  vif-localack online, attached by xlnetd: ${ms} ms`);
  assert.ok(ms < ONLINE_BUDGET_MS);
  assert.is(await backend(g, 'hotplug-status'), 'connected');
  assert.is(await backend(g, 'xlnet-status'), 'attached:default');
  const a = (await list()).find((x) => x.vif === 'vif21.0');
  assert.ok(a, 'xlnetd lists the vif');
  assert.is(a!.state, 'active');
  assert.is(a!.profile, 'default');
  assert.is(a!.mode, 'bridge');
  assert.is(a!.domain, 'xhp-att21');
  assert.ok(await pingsDom0(g), 'the guest still reaches Dom0');
  const log = logSince(from);
  assert.is(log.match(/xlnet hotplug online vif21\.0: attaching/g)?.length, 1, log);
  // libxl runs online again (e.g. a toolstack retry): still one attachment.
  await lab.hotplug(g, 'online');
  assert.is(await backend(g, 'xlnet-status'), 'attached:default');
  assert.is((await list()).filter((x) => x.vif === 'vif21.0').length, 1);
  const t = Date.now();
  const off = await lab.removeGuest(21);
  console.log(`  offline with xlnetd: ${Date.now() - t} ms`);
  assert.is(off?.code, 0);
  const after = (await list()).find((x) => x.vif === 'vif21.0');
  assert.ok(after === undefined || after.state === 'draining', `after offline: ${JSON.stringify(after)}`);
});

test('xlnetd answering after the hotplug gave up (stopped for 9 s): the vif comes up unsplit and xlnetd undoes the late attach', async () => {
  const d = daemon!;
  const from = statSync(d.logPath).size;
  process.kill(d.pid, 'SIGSTOP');
  let g: Guest;
  try {
    ({ g } = await timedAdd({ domid: 27, name: 'xhp-late27', script: 'vif-localack' }));
  } finally {
    process.kill(d.pid, 'SIGCONT');
  }
  assert.is(await backend(g, 'hotplug-status'), 'connected');
  assert.match((await backend(g, 'xlnet-status')) ?? '', /^unavailable:/);
  // xlnetd now reads the queued request: it attaches, finds its requester gone, detaches.
  const undone = () => readFileSync(d.logPath).subarray(from).toString().includes('vif27.0: the requester of this attach gave up');
  for (let i = 0; i < 100 && !undone(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(undone(), `xlnetd did not undo the late attach: ${readFileSync(d.logPath).subarray(from).toString().slice(-1500)}`);
  const left = (await list()).find((x) => x.vif === 'vif27.0');
  assert.ok(left === undefined || left.state === 'draining', `what xlnet-status says (unavailable) is what xlnetd does: ${JSON.stringify(left)}`);
  assert.is((await lab.removeGuest(27))?.code, 0);
});

test('xlnetd running: a [domain] rule picks the profile for a plain vif-bridge vif; a routed vif attaches too', async () => {
  const { g } = await timedAdd({ domid: 22, name: 'xhp-web22' });
  assert.is(await backend(g, 'xlnet-status'), 'attached:sat');
  assert.is((await list()).find((x) => x.vif === 'vif22.0')?.profile, 'sat');
  const { g: r } = await timedAdd({ domid: 23, name: 'xhp-rt23', mode: 'route', script: 'vif-localack-route' });
  assert.is(await backend(r, 'xlnet-status'), 'attached:default');
  assert.is((await list()).find((x) => x.vif === 'vif23.0')?.mode, 'route');
  assert.is((await lab.removeGuest(22))?.code, 0);
  assert.is((await lab.removeGuest(23))?.code, 0);
});

test('xlnetd refuses (xlnet.conf edited, xlnetd not reloaded): unsplit with a warning, or failed if required', async () => {
  const saved = lab.hotplugEnv.XLNET_CONF;
  const edited = join(work, 'edited.conf');
  writeFileSync(edited, `${DAEMON_CONF}\n[profile newer]\nbuffer = 8m\n`);
  lab.hotplugEnv.XLNET_CONF = edited;
  try {
    const { g } = await timedAdd({ domid: 24, name: 'xhp-ref24', localack: 'newer' });
    assert.is(await backend(g, 'hotplug-status'), 'connected');
    assert.match((await backend(g, 'xlnet-status')) ?? '', /^unavailable:xlnetd refused: E_UNKNOWN_PROFILE/);
    assert.is((await lab.removeGuest(24))?.code, 0);
    writeFileSync(edited, `[defaults]\nprofile = newer\n\n[profile newer]\nbuffer = 8m\n`);
    const { err } = await addFails({ domid: 25, name: 'xhp-ref25', localack: 'required' });
    assert.match(err.hotplugError ?? '', /^vif25\.0: local acknowledgement is required \(backend localack=required\) but xlnetd refused: E_UNKNOWN_PROFILE/);
    assert.is((await lab.removeGuest(25))?.code, 0);
  } finally {
    lab.hotplugEnv.XLNET_CONF = saved!;
  }
});

test('xlnetd stopped after attaching: offline still succeeds', async () => {
  const { g } = await timedAdd({ domid: 26, name: 'xhp-stop26', script: 'vif-localack' });
  assert.is(await backend(g, 'xlnet-status'), 'attached:default');
  await lab.stopDaemon('SIGKILL');
  const off = await lab.removeGuest(26);
  assert.is(off?.code, 0);
});

test.run();
