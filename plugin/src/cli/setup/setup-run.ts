// What `xlnet setup` does (its flags and help are in setup-verb.ts): checks
// the host, asks (or takes flags for) how the service should run, and writes
// xlnet.conf, the hotplug scripts, a sysctl drop-in, the systemd unit and -
// if asked - the chosen guests' vif lines. Shows every change before making
// it; --dry-run only shows; --uninstall undoes what the manifest says setup
// did. The prompts (wizard.ts, @inquirer/prompts) are loaded only when
// there is someone to ask: not with --yes, nor without a terminal.
import { spawnSync } from 'node:child_process';
import { CliError, usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { unifiedDiff } from '../format/diff.js';
import { interactiveTerminal, type Io } from '../io.js';
import { readConfig } from '../load-config.js';
import type { Ctx } from '../verb.js';
import { packageVersion } from '../version-info.js';
import { findDomainConfigs } from '../xen-host.js';
import { answersFromFlags, defaultAnswers, describeAnswers, validateAnswers, type SetupAnswers } from './answers.js';
import { answersChanged, applyChanges, planUninstall, uninstall } from './apply.js';
import { renderChecks, runHostChecks, systemdRunning, type HostReport } from './host-checks.js';
import { xlnetdCommand } from './host-files.js';
import { readManifest, type Manifest } from './manifest.js';
import { hostPath, setupPaths, type SetupPaths } from './paths.js';
import { planSetup, type FileChange } from './plan.js';

/** Runs fn under an ora spinner on a terminal; plain otherwise (no spinner in CI or pipes). */
async function step<T>(io: Io, text: string, fn: () => Promise<T> | T): Promise<T> {
  if (!interactiveTerminal(io)) return await fn();
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: process.stderr }).start();
  try {
    const r = await fn();
    spinner.succeed();
    return r;
  } catch (e) {
    spinner.fail();
    throw e;
  }
}

function section(io: Io, title: string): void {
  io.out(`\n${title}\n`);
}

function describeManifest(m: Manifest | undefined, paths: SetupPaths): string {
  if (!m) return `  no earlier setup here (no ${hostPath(paths.root, paths.manifest)})\n`;
  return `  set up by xlnet ${m.xlnet} on ${m.updatedAt.slice(0, 19).replace('T', ' ')} UTC: ${m.files.length} files\n` +
    describeAnswers(m.answers).replace(/^ {2}/gm, '    ');
}

function changeLine(c: FileChange): string {
  const what = c.before === undefined ? 'create' : c.before === c.after ? 'chmod ' : 'update';
  const mode = c.beforeMode !== undefined && c.beforeMode !== c.mode ? ` (mode ${c.beforeMode.toString(8)} -> ${c.mode.toString(8)})` : '';
  return `  ${what}  ${c.shown}${mode}: ${c.why}`;
}

function printChanges(io: Io, changes: readonly FileChange[], full: boolean): void {
  for (const c of changes) io.out(changeLine(c) + '\n');
  for (const c of changes) {
    // New files are long (xlnet.conf is ~150 lines): shown in full only by --dry-run.
    if (c.before === undefined && !full) continue;
    const d = unifiedDiff(c.before, c.after, c.shown);
    if (d) io.out('\n' + d);
  }
}

function startHint(paths: SetupPaths): string {
  const cmd = xlnetdCommand();
  return `${cmd.xlnetd} --config ${hostPath(paths.root, paths.conf)}`;
}

function postActions(io: Io, paths: SetupPaths, changes: readonly FileChange[], noStart: boolean): void {
  if (paths.root !== '/') {
    io.out(`\n--root ${paths.root}: the running system is left alone (no sysctl -p, no systemctl).\n`);
    io.out(`On the real host, start the daemon with: ${startHint(paths)}\n`);
    return;
  }
  if (changes.some((c) => c.path === paths.sysctlDropin)) {
    const r = spawnSync('sysctl', ['-p', paths.sysctlDropin], { encoding: 'utf8' });
    io.out(r.status === 0 ? `applied ${paths.sysctlDropin} to the running kernel\n` : `sysctl -p ${paths.sysctlDropin} failed: ${(r.stderr ?? '').trim()}\n`);
  }
  if (!systemdRunning()) {
    io.out(`systemd not running: start xlnetd yourself with: ${startHint(paths)}\n`);
    return;
  }
  const run = (args: string[]): boolean => spawnSync('systemctl', args, { stdio: 'inherit' }).status === 0;
  run(['daemon-reload']);
  const ok = noStart ? run(['enable', 'xlnetd.service']) : run(['enable', '--now', 'xlnetd.service']);
  io.out(ok ? `xlnetd.service enabled${noStart ? '' : ' and started'}\n` : 'systemctl failed: see systemctl status xlnetd\n');
}

function nextSteps(io: Io, a: SetupAnswers): void {
  section(io, 'Next');
  if (a.domains.length === 0) io.out('  no domain was chosen: add [domain NAME] rules to xlnet.conf, or re-run xlnet setup\n');
  else if (a.method === 'hook') io.out(`  ${a.domains.join(', ')}: served from their next vif hotplug (xl create, or xl network-attach)\n`);
  else io.out(`  restart ${a.domains.join(', ')} (or re-attach their vifs) so the new vif lines take effect\n`);
  io.out('  check a guest:   xlnet check /etc/xen/GUEST.cfg\n  watch it work:   xlnet status, xlnet top\n  undo all this:   xlnet setup --uninstall\n');
}

async function runUninstall(ctx: Ctx, paths: SetupPaths, dryRun: boolean, interactive: boolean): Promise<number> {
  const { io } = ctx;
  const m = readManifest(paths.manifest);
  if (!m) {
    io.out(`Nothing to uninstall: no ${hostPath(paths.root, paths.manifest)} (setup has not installed anything under ${paths.root}).\n`);
    return EXIT.OK;
  }
  io.out(`xlnet setup --uninstall (root ${paths.root})\n`);
  section(io, dryRun ? 'Would undo (dry run: nothing is changed)' : 'Undo');
  for (const s of planUninstall(paths, m)) io.out(`  ${s.path}: ${s.detail}\n`);
  io.out(`  ${hostPath(paths.root, paths.manifest)}: remove\n`);
  for (const d of [...m.dirs].reverse()) io.out(`  ${d}/: remove if empty\n`);
  if (dryRun) return EXIT.OK;
  if (interactive && !(await (await import('@inquirer/prompts')).confirm({ message: 'Undo all this?', default: true }))) {
    io.out('Nothing changed.\n');
    return EXIT.FAILED;
  }
  if (paths.root === '/' && systemdRunning()) spawnSync('systemctl', ['disable', '--now', 'xlnetd.service'], { stdio: 'inherit' });
  section(io, 'Done');
  const { kept } = uninstall(paths, m, (l) => io.out(`  ${l}\n`));
  io.out('Kernel settings applied at runtime stay until reboot (the drop-in is gone).\n');
  if (kept) {
    io.err(`xlnet setup: ${kept} file${kept > 1 ? 's' : ''} changed since setup wrote them and ${kept > 1 ? 'were' : 'was'} left in place\n`);
    return EXIT.FAILED;
  }
  return EXIT.OK;
}

export async function runSetup(ctx: Ctx): Promise<number> {
  const { io, values } = ctx;
  const root = (values.root as string | undefined) ?? '/';
  const paths = setupPaths(root, ctx.configPath, values['xen-dir'] as string | undefined);
  const dryRun = values['dry-run'] === true;
  const yes = values.yes === true;
  const interactive = interactiveTerminal(io) && !yes;
  if (values.uninstall) {
    const answerFlags = ['mode', 'bridge', 'profile', 'domain', 'method', 'rewrite-configs', 'keep-configs', 'no-start', 'xen-dir'].filter((f) => values[f] !== undefined);
    if (answerFlags.length) throw usageError(`xlnet setup --uninstall: --${answerFlags[0]} is a setup answer, not an uninstall option`, 'setup');
    if (root === '/' && process.getuid?.() !== 0 && !dryRun) throw new CliError(EXIT.PERMISSION, 'setup --uninstall: needs root', 'run: sudo xlnet setup --uninstall');
    return runUninstall(ctx, paths, dryRun, interactive);
  }

  io.out(`xlnet setup (root ${paths.root}${dryRun ? ', dry run' : ''})\n`);
  section(io, 'Host');
  const report: HostReport = await step(io, 'Checking the host', () => runHostChecks({ root: paths.root, xlConf: paths.xlConf }));
  io.out(renderChecks(report.checks));
  if (paths.root === '/' && !report.facts.isRoot && !dryRun) {
    throw new CliError(EXIT.PERMISSION, 'setup: needs root to write /etc and apply kernel settings', 'run: sudo xlnet setup (or look first: xlnet setup --dry-run)');
  }

  const conf = readConfig(paths.conf);
  if (!conf.config) {
    throw new CliError(EXIT.FAILED,
      `setup: ${hostPath(paths.root, paths.conf)} has errors, and setup does not overwrite a file it cannot read:\n${conf.errors.map((e) => `  ${e.message}`).join('\n')}`,
      'fix them (xlnet config check), or move the file away and run setup again');
  }
  const current = conf.found ? conf.config : undefined;
  const manifest = readManifest(paths.manifest);
  const domains = findDomainConfigs(paths.xenDir);

  section(io, 'Current state');
  io.out(describeManifest(manifest, paths));
  io.out(current ? `  ${hostPath(paths.root, paths.conf)}: default profile ${current.defaults.profile}; profiles ${[...current.profiles.keys()].join(', ')}; ${current.domains.length} [domain] rules\n`
    : `  ${hostPath(paths.root, paths.conf)}: not there yet\n`);
  io.out(`  domain configs in ${hostPath(paths.root, paths.xenDir)}: ${domains.length ? domains.map((d) => d.name ?? `${hostPath(paths.root, d.file)} (unreadable)`).join(', ') : 'none'}\n`);

  const given = answersFromFlags(values);
  const defaults = defaultAnswers(report.facts, manifest, current);
  let answers: SetupAnswers;
  if (interactive) {
    section(io, 'Questions');
    const { askAnswers } = await import('./wizard.js');
    answers = await askAnswers(given, defaults, { io, root: paths.root, facts: report.facts, domains, current });
  } else {
    const missing = (['mode', 'profile', 'domains', 'method'] as const).filter((k) => given[k] === undefined);
    if (missing.length && !yes && !dryRun) {
      throw usageError(
        `xlnet setup: no terminal to ask on, and no answer for: ${missing.join(', ')}. ` +
          'Give them as flags (--mode, --profile, --domain, --method) or add --yes to take the current state and defaults',
        'setup',
      );
    }
    const method = given.method ?? defaults.method;
    const mode = given.mode ?? defaults.mode;
    answers = {
      ...defaults,
      ...given,
      bridges: mode === 'bridge' ? (given.bridges ?? defaults.bridges) : [],
      rewriteConfigs: given.rewriteConfigs ?? (given.method === undefined ? defaults.rewriteConfigs : method !== 'hook'),
    };
  }
  validateAnswers(answers, current, domains);
  section(io, 'Answers');
  io.out(describeAnswers(answers));
  if (answers.method === 'xl' && !report.facts.xl.patched) {
    io.out('  warning: xl on this host is stock: it drops localack= (install the xl built by libxl-patch/)\n');
  }

  const plan = planSetup(paths, answers, report.facts, current, domains, hostPath(paths.root, paths.conf));
  for (const n of plan.notes) io.out(`  note: ${n}\n`);
  const recordAnswers = answersChanged(manifest, answers) && (plan.changes.length > 0 || manifest !== undefined);
  if (plan.changes.length === 0 && !recordAnswers) {
    io.out('\nNothing to change: the host is already set up with these answers.\n');
    return EXIT.OK;
  }
  section(io, dryRun ? 'Changes (dry run: nothing is written)' : 'Changes');
  printChanges(io, plan.changes, dryRun);
  if (recordAnswers) io.out(`  ${manifest ? 'update' : 'create'}  ${hostPath(paths.root, paths.manifest)}: what setup installed (for --uninstall)\n`);
  if (dryRun) {
    if (paths.root === '/') io.out('\nThen: sysctl -p /etc/sysctl.d/60-xlnet.conf; systemctl enable --now xlnetd (when systemd runs)\n');
    return EXIT.OK;
  }
  if (interactive && !(await (await import('./wizard.js')).confirmApply(plan.changes.length))) {
    io.out('Nothing changed.\n');
    return EXIT.FAILED;
  }
  section(io, 'Applying');
  const lines: string[] = [];
  try {
    await step(io, 'Writing files', () => applyChanges(paths, plan.changes, manifest, answers, packageVersion(), (l) => lines.push(l)));
  } finally {
    for (const l of lines) io.out(`  ${l}\n`);
  }
  postActions(io, paths, plan.changes, values['no-start'] === true);
  nextSteps(io, answers);
  return EXIT.OK;
}
