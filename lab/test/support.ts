// Shared by the lab tests: asserting transfers, and a control client bound to one daemon.
import * as assert from 'uvu/assert';
import { call } from '../../plugin/src/daemon/client.js';
import type { XferReport } from '../lab.js';

/** Every transfer of the report completed and both ends hashed the same bytes. */
export function allOk(r: XferReport): void {
  for (const t of r.transfers) {
    assert.ok(t.ok, `transfer ${t.id} ${t.dir} ${t.size}: ${t.error ?? ''}`);
    assert.is(t.sha256_sender, t.sha256_receiver);
  }
}

/** A control-API caller for the daemon listening on `socket()` (read at each call: daemons restart). */
export function controller(socket: () => string) {
  return <T>(req: Parameters<typeof call>[0]) => call<T>(req, { socket: socket() });
}

/** The relay engine under test (XLNET_TEST_ENGINE, see lab.ts withTestEngine) and
 * a lab prefix suffix, so the kernel run of a suite never shares its namespaces. */
export const TEST_ENGINE = process.env.XLNET_TEST_ENGINE === 'kernel' ? 'kernel' : 'user';
export const ENGINE_SUFFIX = TEST_ENGINE === 'kernel' ? 'k' : '';
