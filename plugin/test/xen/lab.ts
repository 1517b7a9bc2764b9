// Test helpers: a private real xenstored per test (lab/xenstore), and a way
// to assert on rejections (uvu has no async throws).
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabXenstored, type LabXenstored } from '../../../lab/xenstore/xenstored.ts';
import { XenstoreClient, XenstoreError } from '../../src/xen/xenstore.js';

export async function withXenstored(
  fn: (lab: LabXenstored, client: XenstoreClient) => Promise<void>,
  timeoutMs?: number,
): Promise<void> {
  const lab = await startLabXenstored(mkdtempSync(join(tmpdir(), 'xsc-')));
  let client: XenstoreClient | undefined;
  try {
    client = await XenstoreClient.connect({ path: lab.socketPath, timeoutMs });
    await fn(lab, client);
  } finally {
    await client?.close();
    await lab.stop();
  }
}

/** Awaits a promise that must reject with a XenstoreError of `code`. */
export async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<XenstoreError> {
  const err = await p.then(
    (v) => assert.unreachable(`expected ${code}, got value ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  assert.instance(err, XenstoreError, `expected a XenstoreError, got ${String(err)}`);
  const xe = err as XenstoreError;
  assert.is(xe.code, code, xe.message);
  if (message) assert.match(xe.message, message);
  return xe;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until cond() is true or ms elapse. */
export async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}
