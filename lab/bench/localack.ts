// Benchmarks of local acknowledgement (shared/docs/benchmarks.md), in the
// namespace lab: every figure is the median of repeated runs with min and
// max, the direct path measured alongside in the same lab and run.
//
//   node --import tsx lab/bench/localack.ts [--scenario NAME[,NAME]] [--runs 5] [--out DIR]
//
// Scenarios: geo-legacy, geo-modern, lan, haproxy, memory (default: all, in
// that order; the geo-legacy direct runs alone take ~30 min). See README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from '../lab.js';
import { haproxyScenario } from './comparator.js';
import { geoScenario } from './geo.js';
import { lanScenario } from './lan.js';
import { gitCommit } from './measure.js';
import { memoryScenario } from './memory.js';
import type { ScenarioOut } from './report.js';
import { activeLabs } from './setup.js';

const SCENARIOS = ['geo-legacy', 'geo-modern', 'lan', 'haproxy', 'memory'] as const;
type Scenario = typeof SCENARIOS[number];

const { values: a } = parseArgs({
  options: {
    scenario: { type: 'string', default: SCENARIOS.join(',') },
    runs: { type: 'string', default: '5' },
    out: { type: 'string', default: join(REPO, 'bench-results') },
    prefix: { type: 'string', default: 'xbn' },
    'legacy-sizes': { type: 'string', default: '10000000,2000000' },
    'modern-sizes': { type: 'string', default: '100000,2000000,10000000' },
    'lan-bytes': { type: 'string', default: '1000000000' },
    parallel: { type: 'string', default: '1,4' },
    'lan-profile': { type: 'string', default: 'default' },
    'setup-count': { type: 'string', default: '200' },
    'rate-count': { type: 'string', default: '1000' },
    'rate-parallel': { type: 'string', default: '8' },
    'mem-profiles': { type: 'string', default: 'satellite,default' },
    'mem-guests': { type: 'string', default: '4' },
    'mem-conns': { type: 'string', default: '1' },
    'mem-seconds': { type: 'string', default: '60' },
    'mem-direct-seconds': { type: 'string', default: '20' },
    set: { type: 'string', default: '' },
    'haproxy-parts': { type: 'string', default: 'geo,lan' },
    dirs: { type: 'string', default: 'up,down' },
    paths: { type: 'string', default: 'direct,localack' },
    trace: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (a.help) {
  process.stdout.write(`usage: node --import tsx lab/bench/localack.ts [--scenario ${SCENARIOS.join('|')}[,...]] [--runs N] [--out DIR]
  geo:    --legacy-sizes B,B  --modern-sizes B,B (bytes)  --dirs up,down  --paths direct,localack
          --trace (the WAN leg's tcp_info every 100 ms in the localack samples: cwnd, snd_wnd, rwnd_limited, ...)
  lan:    --lan-bytes B  --parallel 1,4  --lan-profile NAME  --setup-count N  --rate-count N  --rate-parallel N
  haproxy: --haproxy-parts geo,lan  (the geo upload, the lan throughput)
  memory: --mem-profiles a,b  --mem-guests N  --mem-conns N  --mem-seconds S  --mem-direct-seconds S
  --set k=v[,k=v]: profile options for the localack vifs (xlnet set), e.g. wan_cc=cubic
  --prefix P: lab prefix (scenario letters are appended, e.g. xbng); see lab/bench/README.md\n`);
  process.exit(0);
}

const num = (name: string, v: string, min = 1): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) { process.stderr.write(`--${name} must be a number >= ${min}, got '${v}'\n`); process.exit(2); }
  return n;
};
const list = (name: string, v: string) => v.split(',').map((x) => num(name, x.trim(), 0));
const scenarios = a.scenario!.split(',').map((s) => s.trim());
for (const s of scenarios) {
  if (!(SCENARIOS as readonly string[]).includes(s)) { process.stderr.write(`unknown scenario '${s}' (known: ${SCENARIOS.join(', ')})\n`); process.exit(2); }
}
const runs = num('runs', a.runs!);
const oneOf = <T extends string>(name: string, v: string, known: readonly T[]): T[] => v.split(',').map((x) => {
  if (!(known as readonly string[]).includes(x.trim())) { process.stderr.write(`--${name}: unknown '${x}' (known: ${known.join(', ')})\n`); process.exit(2); }
  return x.trim() as T;
});
const dirs = oneOf('dirs', a.dirs!, ['up', 'down'] as const);
const paths = oneOf('paths', a.paths!, ['direct', 'localack'] as const);
const options: Record<string, string> = {};
for (const kv of a.set!.split(',').filter(Boolean)) {
  const i = kv.indexOf('=');
  if (i < 1) { process.stderr.write(`--set takes key=value pairs, got '${kv}'\n`); process.exit(2); }
  options[kv.slice(0, i)] = kv.slice(i + 1);
}
// Each scenario has its own lab (prefix + letter), so two invocations with different scenarios can run at once.
const LETTER: Record<Scenario, string> = { 'geo-legacy': 'g', 'geo-modern': 'm', lan: 'l', haproxy: 'h', memory: 'q' };

const say = (s: string) => process.stdout.write(`${s}\n`);
mkdirSync(a.out!, { recursive: true });
const file = join(a.out!, `localack-${scenarios.join('+')}${a.set ? `-${a.set.replace(/[^a-z0-9=_-]+/gi, '_')}` : ''}${a.paths === 'localack' ? '-localack-only' : ''}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const doc = {
  tool: 'lab/bench/localack.ts', commit: gitCommit(REPO), host: hostname(), cpus: cpus().length,
  argv: process.argv.slice(2), startedAt: new Date().toISOString(), finishedAt: null as string | null,
  loadavgStart: loadavg(), loadavgEnd: null as number[] | null,
  scenarios: [] as ScenarioOut[],
};
const save = () => writeFileSync(file, JSON.stringify(doc, null, 2));
/** the scenario in progress replaces its own entry on every save */
const saver = (s: ScenarioOut) => {
  const i = doc.scenarios.indexOf(s);
  if (i < 0) doc.scenarios.push(s);
  save();
};

async function runOne(s: Scenario): Promise<ScenarioOut> {
  const prefix = `${a.prefix}${LETTER[s]}`;
  switch (s) {
    case 'geo-legacy':
    case 'geo-modern':
      return geoScenario({ options, dirs, paths, trace: a.trace!, guest: s === 'geo-legacy' ? 'legacy' : 'modern', runs, prefix, log: say, save: saver,
        sizes: list('sizes', s === 'geo-legacy' ? a['legacy-sizes']! : a['modern-sizes']!) });
    case 'lan':
      return lanScenario({ options, runs, prefix, log: say, save: saver, bytes: num('lan-bytes', a['lan-bytes']!), parallel: list('parallel', a.parallel!),
        profile: a['lan-profile']!, setupCount: num('setup-count', a['setup-count']!), rateCount: num('rate-count', a['rate-count']!),
        rateParallel: num('rate-parallel', a['rate-parallel']!) });
    case 'haproxy':
      return haproxyScenario({ options, runs, prefix, log: say, save: saver, geoSize: list('legacy-sizes', a['legacy-sizes']!)[0]!,
        lanBytes: num('lan-bytes', a['lan-bytes']!), parallel: list('parallel', a.parallel!), lanProfile: a['lan-profile']!,
        parts: a['haproxy-parts']!.split(',').filter((x): x is 'geo' | 'lan' => x === 'geo' || x === 'lan') });
    case 'memory':
      return memoryScenario({ options, prefix, log: say, save: saver, profiles: a['mem-profiles']!.split(','), guests: num('mem-guests', a['mem-guests']!),
        connsPerGuest: num('mem-conns', a['mem-conns']!), seconds: num('mem-seconds', a['mem-seconds']!, 20),
        directSeconds: num('mem-direct-seconds', a['mem-direct-seconds']!, 0) });
  }
}

function print(s: ScenarioOut): void {
  say(`\n=== ${s.scenario} (link ${s.link}; load average ${s.load.start.map((x) => x.toFixed(2)).join(' ')} at start, ${s.load.end?.map((x) => x.toFixed(2)).join(' ')} at end, 1-min max during runs ${s.load.maxDuringRuns?.toFixed(2) ?? '-'})`);
  if (s.setup.wanInitcwnd) say(`WAN leg initial cwnd as watched in Dom0 (localack samples): ${String(s.setup.wanInitcwnd)}`);
  const x = s.setup.xlnetd as { commit?: string; datapath?: { state?: string; autoEngine?: string } } | undefined;
  if (x) say(`xlnetd: commit ${x.commit}, datapath ${x.datapath?.state ?? 'not reported'}${x.datapath?.autoEngine ? `, engine auto = ${x.datapath.autoEngine}` : ''}`);
  for (const t of s.tables) say(`\n${t}`);
  if (s.notes.length) say('');
  for (const n of s.notes) say(`note: ${n}`);
  for (const t of s.targets) say(`target ${t.met === null ? 'NOT MEASURED' : t.met ? 'MET' : 'MISSED'}: ${t.name}: ${t.detail}`);
  const failed = s.cases.flatMap((c) => c.samples.filter((x) => !x.ok).map((x) => `${c.name} run ${x.run + 1} ${x.path}: ${x.errors.join('; ')}`));
  for (const f of failed) say(`FAILED: ${f}`);
}

async function main(): Promise<void> {
  say(`results will be written to ${file}`);
  let bad = false;
  for (const s of scenarios as Scenario[]) {
    say(`\n>>> scenario ${s} (${runs} runs)`);
    try {
      const out = await runOne(s);
      saver(out);
      print(out);
      bad ||= out.cases.some((c) => c.samples.some((x) => !x.ok)) || out.targets.some((t) => t.met === false);
    } catch (e) {
      bad = true;
      say(`scenario ${s} failed: ${(e as Error).stack ?? e}`);
      const partial = doc.scenarios.find((x) => x.scenario === s) as (ScenarioOut & { error?: string }) | undefined;
      if (partial) partial.error = (e as Error).message;
      else doc.scenarios.push({ scenario: s, error: (e as Error).message } as unknown as ScenarioOut);
      save();
    }
  }
  doc.finishedAt = new Date().toISOString();
  doc.loadavgEnd = loadavg();
  save();
  say(`\nresults written to ${file}`);
  if (bad) process.exitCode = 1;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`\n${sig}: bringing the lab down; partial results are in ${file}`);
    Promise.allSettled([...activeLabs].map((l) => l.down())).finally(() => process.exit(130));
  });
}

main().catch((e) => { process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
