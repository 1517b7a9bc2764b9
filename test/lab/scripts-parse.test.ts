// The lab's run-on-demand scripts (benchmarks, repro tools) run no test of
// their own, so nothing else notices when one stops compiling: each .ts file
// under lab/ must at least parse.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const LAB = new URL('../../lab/', import.meta.url).pathname;

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    if (e === 'node_modules' || e === 'build') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (e.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('every TypeScript file under lab/ parses', () => {
  const files = tsFiles(LAB);
  assert.ok(files.some((f) => f.endsWith('lab/bench/engines.ts')), 'the bench scripts are among them');
  const broken: string[] = [];
  for (const f of files) {
    const r = ts.transpileModule(readFileSync(f, 'utf8'), { fileName: f, reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.NodeNext } });
    for (const d of r.diagnostics ?? []) {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      broken.push(`${f}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    }
  }
  assert.equal(broken, []);
});

test.run();
