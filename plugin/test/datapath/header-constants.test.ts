// The limits the BPF maps are sized for are written once in datapath/xlnet.h
// and once in plugin/src/datapath/layout.ts (TypeScript cannot include a C
// header): this test keeps the two equal, and keeps the BPF objects using the
// header's names instead of numbers of their own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CC_NAME_MAX, MAX_PROFILES, MAX_VIFS } from '../../src/datapath/layout.js';
import { MARK_MASK } from '../../src/steering/rules.js';

const DATAPATH = new URL('../../../datapath/', import.meta.url).pathname;

function defines(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of readFileSync(join(DATAPATH, file), 'utf8').matchAll(/^#define\s+(\w+)\s+([^\n/]+?)\s*(?:\/\*.*)?$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

test('xlnet.h and layout.ts agree on the map limits', () => {
  const h = defines('xlnet.h');
  assert.is(Number(h.get('XLNET_MAX_VIFS')), MAX_VIFS);
  assert.is(Number(h.get('XLNET_MAX_PROFILES')), MAX_PROFILES);
  assert.is(Number(h.get('XLNET_CC_NAME_MAX')), CC_NAME_MAX);
});

test('an attachment id fits the 16 bits of the fwmark that carry it', () => {
  assert.ok(MAX_VIFS <= (~MARK_MASK >>> 0), `${MAX_VIFS} ids`);
});

test('no BPF object defines a limit of its own that xlnet.h has', () => {
  for (const f of readdirSync(DATAPATH).filter((n) => n.endsWith('.bpf.c') || n === 'maps.h')) {
    const d = defines(f);
    for (const name of ['XLNET_MAX_VIFS', 'XLNET_MAX_PROFILES', 'XLNET_CC_NAME_MAX']) assert.not.ok(d.has(name), `${f} defines ${name} again`);
    for (const [name, value] of d) {
      if (/^XLNET_MAX_VIF/.test(name)) assert.match(value, /XLNET_MAX_VIFS/, `${f}: ${name} derives from XLNET_MAX_VIFS`);
    }
  }
});

test.run();
