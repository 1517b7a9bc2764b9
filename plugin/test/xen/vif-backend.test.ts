// vif backend directories as libxl 4.17 writes them (libxl_device.c,
// libxl_nic.c), written by writeVifBackend and read back by readVifBackend,
// against the real xenstored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  XenbusState,
  domainName,
  readVifBackend,
  vifBackendPath,
  writeVifBackend,
} from '../../src/xen/vif-backend.js';
import { rejectsWith, withXenstored } from './lab.ts';

const run = promisify(execFile);
const BE = '/local/domain/0/backend/vif/5/0';
const FE = '/local/domain/5/device/vif/0';
const LIBXL = '/libxl/5/device/vif/0';

test('a default vif is written with exactly the keys and values libxl writes', () =>
  withXenstored(async (_lab, xs) => {
    const path = await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3E:0A:0B:0C' });
    assert.is(path, BE);
    const backend: Record<string, string> = {};
    for (const k of await xs.directory(BE)) backend[k] = await xs.read(`${BE}/${k}`);
    assert.equal(backend, {
      frontend: FE,
      'frontend-id': '5',
      online: '1',
      state: '1',
      script: '/etc/xen/scripts/vif-bridge',
      mac: '00:16:3e:0a:0b:0c',
      bridge: 'xenbr0',
      handle: '0',
      type: 'vif',
      'hotplug-status': '',
    });
    // The /libxl mirror: frontend + backend paths, then the backend's keys.
    const mirror: Record<string, string> = {};
    for (const k of await xs.directory(LIBXL)) mirror[k] = await xs.read(`${LIBXL}/${k}`);
    const { frontend: _f, ...rest } = backend;
    assert.equal(mirror, { frontend: FE, backend: BE, ...rest });
    // Frontend: what the guest's netfront reads.
    const frontend: Record<string, string> = {};
    for (const k of await xs.directory(FE)) frontend[k] = await xs.read(`${FE}/${k}`);
    assert.equal(frontend, {
      backend: BE,
      'backend-id': '0',
      state: '1',
      handle: '0',
      mac: '00:16:3e:0a:0b:0c',
      trusted: '1',
      mtu: '1500',
    });
  }));

test("libxl's permissions: backend owned by dom0 readable by the guest, frontend the reverse", () =>
  withXenstored(async (_lab, xs) => {
    await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3e:00:00:01' });
    assert.equal(await xs.getPermissions(BE), ['n0', 'r5']);
    assert.equal(await xs.getPermissions(FE), ['n5', 'r0']);
    assert.equal(await xs.getPermissions(`${FE}/mac`), ['n5', 'r0']);
    assert.equal(await xs.getPermissions(`${FE}/mtu`), ['n0', 'r5'], 'mtu is read-only for the guest');
  }));

test('readVifBackend returns the typed vif, optional keys included', () =>
  withXenstored(async (_lab, xs) => {
    await xs.write('/local/domain/7/name', 'web1');
    const path = await writeVifBackend(xs, {
      domid: 7,
      devid: 2,
      mac: '00:16:3e:12:34:56',
      bridge: 'br-lan',
      script: '/usr/local/lib/xen/vif-localack',
      vifname: 'web1-eth2',
      ip: ['10.1.0.7', '10.1.0.8'],
      gatewaydev: 'eth0',
      rate: { bytesPerInterval: 250000, intervalUsecs: 20000 },
      mtu: 9000,
      localack: '1',
    });
    assert.is(path, vifBackendPath(0, 7, 2));
    const vif = await readVifBackend(xs, path);
    assert.equal(vif, {
      path,
      backendDomid: 0,
      domid: 7,
      devid: 2,
      frontend: '/local/domain/7/device/vif/2',
      frontendId: 7,
      online: true,
      state: XenbusState.Initialising,
      script: '/usr/local/lib/xen/vif-localack',
      mac: '00:16:3e:12:34:56',
      bridge: 'br-lan',
      handle: 2,
      type: 'vif',
      hotplugStatus: '',
      vifname: 'web1-eth2',
      ip: ['10.1.0.7', '10.1.0.8'],
      gatewaydev: 'eth0',
      rate: { bytesPerInterval: 250000, intervalUsecs: 20000 },
      mtu: 9000,
      localack: '1',
      other: {},
    });
    assert.is(await xs.read(`${path}/ip`), '10.1.0.7 10.1.0.8');
    assert.is(await xs.read(`${path}/rate`), '250000,20000');
    assert.is(await domainName(xs, 7), 'web1');
    assert.is(await domainName(xs, 8), undefined);
  }));

test('state changes and unknown keys are read as they are', () =>
  withXenstored(async (_lab, xs) => {
    const path = await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3e:00:00:02' });
    await xs.write(`${path}/state`, String(XenbusState.Connected));
    await xs.write(`${path}/hotplug-status`, 'connected');
    await xs.write(`${path}/forwarddev`, 'eth1');
    const vif = await readVifBackend(xs, `${path}/`);
    assert.is(vif.state, XenbusState.Connected);
    assert.is(vif.hotplugStatus, 'connected');
    assert.is(vif.mtu, 1500);
    assert.equal(vif.other, { forwarddev: 'eth1' });
  }));

test('writing a vif again replaces what was there, as libxl does', () =>
  withXenstored(async (_lab, xs) => {
    const path = await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3e:00:00:03', vifname: 'old' });
    await xs.write(`${path}/hotplug-status`, 'connected');
    await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3e:00:00:04' });
    const vif = await readVifBackend(xs, path);
    assert.is(vif.mac, '00:16:3e:00:00:04');
    assert.is(vif.vifname, undefined);
    assert.is(vif.hotplugStatus, '');
  }));

test('a hotplug script finds the vif through the relative XENBUS_PATH', () =>
  withXenstored(async (lab, xs) => {
    await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3e:00:00:05' });
    // What vif-common.sh does: xenstore-read "$XENBUS_PATH/mac" with
    // XENBUS_PATH=backend/vif/<domid>/<devid>, relative to Dom0's home.
    const { stdout } = await run('xenstore-read', ['backend/vif/5/0/mac', 'backend/vif/5/0/bridge'], {
      env: { ...process.env, ...lab.env },
    });
    assert.equal(stdout.trim().split('\n'), ['00:16:3e:00:00:05', 'xenbr0']);
  }));

test('missing or malformed vif directories give clear errors', () =>
  withXenstored(async (_lab, xs) => {
    await rejectsWith(readVifBackend(xs, '/local/domain/0/backend/vif/9/0'), 'ENOENT');
    await rejectsWith(readVifBackend(xs, '/local/domain/0/backend/vbd/9/0'), 'EINVAL', /not a vif backend path/);
    const path = await writeVifBackend(xs, { domid: 5, devid: 0, mac: '00:16:3e:00:00:06' });
    await xs.write(`${path}/mac`, 'not-a-mac');
    await rejectsWith(readVifBackend(xs, path), 'EINVAL', /mac = "not-a-mac" is not a MAC address/);
    await xs.write(`${path}/mac`, '00:16:3e:00:00:06');
    await xs.rm(`${path}/handle`);
    await rejectsWith(readVifBackend(xs, path), 'ENOENT', /has no handle/);
    await rejectsWith(writeVifBackend(xs, { domid: 5, devid: 1, mac: '00:16:3e' }), 'EINVAL', /not a MAC address/);
  }));

test.run();
