// What `xlnet check GUEST.cfg ...` does (its flags and help are in
// check.ts): per vif of each guest config, whether xlnet will serve it, how
// it is turned on and with which profile - read the way xl 4.17 reads the
// file (config/checkDomainConfig).
import { readFileSync } from 'node:fs';
import { checkDomainConfig, type CheckReport, type VifCheck } from '../../config/index.js';
import { CliError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { renderTable } from '../format/table.js';
import { requireConfig } from '../load-config.js';
import type { Ctx } from '../verb.js';
import { detectPatchedXl, readXlDefaults } from '../xen-host.js';

const ACTIVATION: Record<VifCheck['activation'], string> = {
  'localack-key': 'localack= (patched xl)',
  script: 'script=vif-localack',
  'domain-rule': '[domain] in xlnet.conf',
  none: '-',
};

function serviceText(v: VifCheck): string {
  if (!v.enabled) return 'off';
  return v.required ? 'on, required' : 'on';
}

function renderReport(r: CheckReport): string {
  const out: string[] = [];
  const bad = r.errors.length + r.vifs.reduce((n, v) => n + v.errors.length, 0);
  out.push(`${r.file}: domain ${r.name ?? '(no name)'}, ${r.vifs.length} vif${r.vifs.length === 1 ? '' : 's'}${bad ? `, ${bad} error${bad > 1 ? 's' : ''}` : ''}`);
  if (r.vifs.length) {
    const table = renderTable(
      [{ header: 'VIF', align: 'right' }, { header: 'DEVID', align: 'right' }, { header: 'LINE', align: 'right' }, { header: 'MODE' },
        { header: 'BRIDGE' }, { header: 'SCRIPT' }, { header: 'SERVICE' }, { header: 'TURNED ON BY' }, { header: 'PROFILE' }],
      r.vifs.map((v) => [String(v.index), String(v.devid), v.line === undefined ? '-' : String(v.line), v.mode,
        v.mode === 'route' ? '-' : v.bridge, v.script, serviceText(v), ACTIVATION[v.activation], v.profile ?? '-']),
    );
    out.push(table.trimEnd().replace(/^/gm, '  '));
  }
  for (const v of r.vifs) {
    for (const e of v.errors) out.push(`  vif ${v.index}: error: ${e}`);
    for (const w of v.warnings) out.push(`  vif ${v.index}: warning: ${w}`);
  }
  for (const e of r.errors) out.push(`  error: ${e}`);
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  return out.join('\n') + '\n';
}

export async function runCheck(ctx: Ctx): Promise<number> {
  const cfg = requireConfig(ctx.configPath, 'check');
  const xlFlag = ctx.values.xl as string | undefined;
  const detected = xlFlag === undefined ? detectPatchedXl() : undefined;
  const patchedXl = xlFlag === undefined ? detected!.patched : xlFlag === 'patched';
  const xlDefaults = readXlDefaults((ctx.values['xl-conf'] as string | undefined) ?? '/etc/xen/xl.conf');
  const reports: CheckReport[] = [];
  for (const file of ctx.positionals) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new CliError(EXIT.FAILED, `check: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
        'give the path of an xl domain config, e.g. /etc/xen/GUEST.cfg');
    }
    reports.push(checkDomainConfig(text, file, cfg, { patchedXl, xlDefaults }));
  }
  if (ctx.json) {
    ctx.io.out(JSON.stringify(reports, null, 2) + '\n');
  } else {
    ctx.io.out(`xl: ${patchedXl ? 'patched (localack= reaches the vif)' : 'stock (localack= is dropped)'}${detected ? '' : ' (--xl)'}; xlnet.conf: ${cfg.source}\n`);
    for (const r of reports) ctx.io.out('\n' + renderReport(r));
  }
  const failed = reports.filter((r) => !r.ok).length;
  if (failed && !ctx.json) ctx.io.err(`xlnet check: ${failed} of ${reports.length} file${reports.length > 1 ? 's' : ''} with errors\n`);
  return failed ? EXIT.FAILED : EXIT.OK;
}
