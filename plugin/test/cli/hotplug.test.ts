// `xlnet hotplug`: the verb hands libxl's environment to the hotplug module
// and returns its exit code (its own behaviour is tested in plugin/test/hotplug).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { xlnet, xlnetProcess } from './helpers.js';

test('without a hotplug environment the module\'s refusal comes back as the exit code', async () => {
  const r = xlnetProcess(['hotplug', 'online'], { XENBUS_PATH: '' });
  assert.is(r.code, 2, r.out + r.err);
  assert.ok((r.out + r.err).includes('XENBUS_PATH'), r.out + r.err);
  assert.not.ok((r.out + r.err).includes('not installed'), 'the module is found');
});

test('a wrong action is a usage error of the verb, before the module is loaded', async () => {
  const r = await xlnet(['hotplug', 'add']);
  assert.is(r.code, 2);
  assert.ok(r.err.includes("'add' is not online or offline"));
});

test.run();
