import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunWriter } from '../../src/runio/writer';
import { retainWholeGroups } from '../../src/shared/rolloutStep';
import { RunStore, discoverRuns } from '../../src/host/runStore';
import { RunsTreeModel, mdEscape, oneLine, type RunNode } from '../../src/host/ui/model/runsTreeModel';
import { folderStartTime, runDisplayLabel, startStamp } from '../../src/host/runLabel';
import { statusText } from '../../src/host/ui/model/statusText';

function makeRun(root: string, id: string, opts: { stages?: boolean } = {}): RunWriter {
  const w = RunWriter.create(path.join(root, id), { id, algorithm: 'grpo', task: 'arithmetic', config: { algorithm: 'grpo', lr: 1e-4, grpo: { groupSize: 2 } }, totalSteps: 10 });
  if (opts.stages) w.updateManifest({ algorithm: 'pipeline', stages: [{ name: 'sft', path: 'stage-sft', algorithm: 'sft' }] });
  return w;
}
function writeStep(w: RunWriter, step: number): void {
  w.writeRolloutStep(
    { step, arrays: ['logprob', 'advantage'], groups: [
      { id: 'g0', prompt: '2+3=\n', samples: [0, 1], rewards: [1, 0], mean: 0.5, std: 0.7071 },
      { id: 'g1', prompt: '1+1=', samples: [2, 3], rewards: [1, 1], mean: 1, std: 0, filtered: true, filterReason: 'zero_variance' },
    ] },
    [
      { group: 'g0', prompt: '2+3=', completion: '5', tokens: ['5', '<eos>'], reward: 1, advantage: 0.7071, length: 2 },
      { group: 'g0', prompt: '2+3=', completion: '<script>x</script>', tokens: ['6'], reward: 0, advantage: -0.7071, length: 1 },
      { group: 'g1', prompt: '1+1=', completion: '2', tokens: ['2'], reward: 1, advantage: 0, length: 1 },
      { group: 'g1', prompt: '1+1=', completion: '2', tokens: ['2'], reward: 1, advantage: 0, length: 1 },
    ],
    [{ logprob: [-0.1, -0.2], advantage: [0.7, 0.7] }, {}, {}, {}],
  );
}
async function labels(model: RunsTreeModel, n: RunNode): Promise<string[]> {
  return (await model.children(n)).map((c) => { const v = model.view(c); return `${v.label}${v.description ? ` [${v.description}]` : ''}`; });
}

test('tree: run → checkpoints / steps → groups (mean ± std, zero-variance marker) → samples (reward, advantage)', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-tree-'));
  const w = makeRun(root, 'run-a');
  w.metrics({ step: 1, values: { 'reward/mean': 0.75, kl: 0.02 } });
  writeStep(w, 1);
  const cd = w.checkpointDir('step_00000001');
  fs.writeFileSync(path.join(cd, 'model.safetensors'), '');
  fs.writeFileSync(path.join(cd, 'checkpoint.json'), JSON.stringify({ format: 'rl-lens-checkpoint', formatVersion: 1, step: 1, algorithm: 'grpo', time: 't', config: {}, tokenizer: { type: 'char', vocab: [], bos: 0, eos: 1, pad: 2 }, model: {}, eval: { passAtK: { 1: 0.42 }, samplesPerPrompt: 4, numPrompts: 2 } }));
  const store = new RunStore();
  const model = new RunsTreeModel(store);
  const roots = model.roots(discoverRuns(root));
  assert.equal(roots.length, 1);
  const rv = model.view(roots[0]);
  assert.match(rv.label, /^run-a · \d\d:\d\d:\d\d$/, 'name · start time (runs of one preset told apart)');
  assert.equal(rv.description, 'grpo · arithmetic · 1/10 · r 0.75');
  assert.equal(rv.icon?.id, 'sync~spin');
  assert.equal(rv.contextValue, 'rlLens.run.running');
  assert.match(rv.tooltip ?? '', /\| grpo\\\.groupSize \| 2 \|/);
  assert.deepEqual(await labels(model, roots[0]), ['Checkpoints [1]', 'Steps [1 with rollouts]']);
  const [ckpts, steps] = await model.children(roots[0]);
  assert.deepEqual(await labels(model, ckpts), ['step_00000001 [step 1 · pass@1 0.42]']);
  assert.deepEqual(await labels(model, steps), ['step 1 [r 0.75 · kl 0.02]']);
  const [step1] = await model.children(steps);
  const groups = await model.children(step1);
  assert.deepEqual(groups.map((g) => model.view(g).description), ['μ 0.5 ± 0.71 · 2 samples', 'μ 1 ± 0 · 2 samples · filtered (zero variance)']);
  assert.equal(model.view(groups[0]).label, '2+3=⏎', 'newline in a prompt made visible');
  assert.equal(model.view(groups[1]).contextValue, 'rlLens.group.filtered');
  const samples = await model.children(groups[0]);
  assert.deepEqual(samples.map((s) => model.view(s).description), ['r 1 · A +0.71', 'r 0 · A −0.71']);
  const sv = model.view(samples[1]);
  assert.deepEqual(sv.command?.args, [{ runDir: path.join(root, 'run-a'), step: 1, sample: 1 }]);
  assert.equal(sv.command?.command, 'rlLens.showHeatmap');
  assert.equal(sv.label, '<script>x</script>', 'labels are plain text (TreeItem labels are not HTML)');
});

test('live follow: appended metrics are read from the last offset, new steps and checkpoints detected', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-live-'));
  const w = makeRun(root, 'live');
  w.metrics({ step: 1, values: { 'reward/mean': 0.1 } });
  const store = new RunStore();
  const e = store.get(path.join(root, 'live'));
  const size1 = fs.statSync(path.join(root, 'live', 'metrics.jsonl')).size;
  assert.equal(e.bytesRead, size1);
  assert.equal(e.refresh().any, false, 'nothing changed');
  // a torn (unterminated) line is not consumed yet
  fs.appendFileSync(path.join(root, 'live', 'metrics.jsonl'), '{"step":2,"values":{"reward/me');
  assert.equal(e.refresh().metrics, false);
  fs.appendFileSync(path.join(root, 'live', 'metrics.jsonl'), 'an":0.2}}\n');
  const ch = e.refresh();
  assert.equal(ch.metrics, true);
  assert.equal(e.lastStep, 2);
  assert.equal(e.latestMetrics?.['reward/mean'], 0.2);
  assert.equal(e.bytesRead, fs.statSync(path.join(root, 'live', 'metrics.jsonl')).size, 'each byte read once');
  writeStep(w, 2);
  assert.deepEqual(e.refresh().steps, true);
  assert.deepEqual(e.steps, [2]);
  w.updateManifest({ status: 'completed' });
  // mtime granularity: force a distinct mtime
  const mf = path.join(root, 'live', 'manifest.json');
  fs.utimesSync(mf, new Date(), new Date(Date.now() + 5000));
  assert.equal(e.refresh().manifest, true);
  assert.equal(e.status, 'completed');
});

test('a "running" run that nobody supervises and that has not written for 10 minutes is shown as stale', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-stale-'));
  const w = makeRun(root, 'stale');
  w.metrics({ step: 1, values: { 'reward/mean': 0.5 } });
  let now = Date.now();
  const supervised = new Set<string>();
  const model = new RunsTreeModel(new RunStore(), { now: () => now, isSupervised: (d) => supervised.has(d) });
  const node: RunNode = { kind: 'run', runDir: w.dir };
  assert.equal(model.view(node).icon?.id, 'sync~spin');
  now += 11 * 60_000;
  assert.equal(model.view(node).icon?.id, 'watch');
  assert.match(model.view(node).description ?? '', /no update for 11 min: trainer not running\?/);
  supervised.add(w.dir);
  assert.equal(model.view(node).icon?.id, 'sync~spin', 'a supervised run is never stale (a slow step is not a dead trainer)');
});

test('pipeline: stages nest under the parent and are not listed twice at top level', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-pipe-'));
  const parent = makeRun(root, 'pipe', { stages: true });
  RunWriter.create(path.join(root, 'pipe', 'stage-sft'), { id: 'stage-sft', algorithm: 'sft', config: {}, parent: '..' });
  const store = new RunStore();
  const model = new RunsTreeModel(store);
  const roots = model.roots([parent.dir, path.join(root, 'pipe', 'stage-sft')]);
  assert.equal(roots.length, 1);
  assert.equal(model.view(roots[0]).contextValue, 'rlLens.run.running.pipeline');
  const kids = await model.children(roots[0]);
  assert.equal(model.view(kids[0]).label, 'sft: stage-sft');
});

test('broken runs and diagnosis hook show as messages, never throw', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-bad-'));
  fs.mkdirSync(path.join(root, 'bad'));
  fs.writeFileSync(path.join(root, 'bad', 'manifest.json'), '{ not json');
  const w = makeRun(root, 'ok');
  fs.mkdirSync(path.join(w.dir, 'rollouts'), { recursive: true });
  fs.writeFileSync(path.join(w.dir, 'rollouts', 'step_00000003.jsonl'), '{"kind":"sample"}\n');
  const model = new RunsTreeModel(new RunStore(), { diagnose: (d) => d.endsWith('ok') ? [{ severity: 'warning', title: 'entropy collapse', steps: [3, 9], message: 'entropy fell' }] : [] });
  const roots = model.roots(discoverRuns(root));
  assert.equal(roots.length, 2);
  const bad = roots.find((r) => r.runDir!.endsWith('bad'))!;
  assert.equal(model.view(bad).icon?.id, 'warning');
  const badKids = await labels(model, bad);
  assert.match(badKids[0], /manifest\.json/);
  const ok = roots.find((r) => r.runDir!.endsWith('ok'))!;
  const kids = await model.children(ok);
  const stepsNode = kids.find((k) => k.kind === 'steps')!;
  const [s3] = await model.children(stepsNode);
  assert.match((await labels(model, s3))[0], /first line must be the step header/);
  const diag = kids.find((k) => k.kind === 'diagnosis')!;
  assert.deepEqual(await labels(model, diag), ['entropy collapse [steps 3–9]']);
});

test('text helpers', () => {
  assert.equal(oneLine('a\nb\tc', 10), 'a⏎b→c');
  assert.equal(oneLine('x'.repeat(20), 5), 'xxxx…');
  assert.equal(mdEscape('**[x](y)**'), '\\*\\*\\[x\\]\\(y\\)\\*\\*');
});

test('cost of a live refresh on a big run (bench note): nothing new, and one new metrics line', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-big-'));
  const w = makeRun(root, 'big');
  const lines: string[] = [];
  for (let s = 1; s <= 20000; s++) lines.push(JSON.stringify({ step: s, values: Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`m${k}`, s * k])) }));
  fs.appendFileSync(path.join(w.dir, 'metrics.jsonl'), lines.join('\n') + '\n');
  for (let s = 1; s <= 300; s++) fs.writeFileSync(path.join(w.dir, 'rollouts', `step_${String(s).padStart(8, '0')}.jsonl`), '{"kind":"header"}\n');
  const store = new RunStore();
  let t0 = performance.now();
  const e = store.get(w.dir);
  const firstMs = performance.now() - t0;
  assert.equal(e.lastStep, 20000);
  assert.equal(e.steps.length, 300);
  t0 = performance.now();
  for (let i = 0; i < 20; i++) assert.equal(e.refresh().any, false);
  const idleMs = (performance.now() - t0) / 20;
  fs.appendFileSync(path.join(w.dir, 'metrics.jsonl'), JSON.stringify({ step: 20001, values: { m0: 1 } }) + '\n');
  const before = e.bytesRead;
  t0 = performance.now();
  assert.equal(e.refresh().metrics, true);
  const oneMs = performance.now() - t0;
  assert.ok(e.bytesRead - before < 100, `read ${e.bytesRead - before} bytes for one appended line`);
  console.log(`# run store: first load of 20k metric lines + 300 steps ${firstMs.toFixed(1)} ms; idle refresh ${idleMs.toFixed(2)} ms; refresh with one new line ${oneMs.toFixed(2)} ms`);
  assert.ok(idleMs < 50, `idle refresh ${idleMs} ms`);
});

test('pipeline summary: the parent shows what each stage gave; a rising RM score over a falling hidden score is called reward hacking', async () => {
  const { pipelineSummary } = await import('../../src/host/ui/model/runsTreeModel');
  const base = {
    sft: { dir: 'stages/1-sft', checkpoint: 'c', passAtK: { '1': 0.703 } },
    rewardModel: { dir: 'stages/2-reward_model', checkpoint: 'c', after: { 'eval/rm/accuracy': 0.992, 'eval/rm/accuracy_correctness_only': 1 },
      onPolicy: { samples: 512, n: 8, mean: 10.71, std: 8.002, pairs: 551, pairAccuracy: 0.984, hiddenMean: 0.824, bestOfNHidden: 0.987 }, normalize: { mean: 10.71, std: 8.002 } },
  };
  const good = pipelineSummary({ ...base, rl: { dir: 'stages/3-ppo', algorithm: 'ppo', checkpoint: 'c', rmScore: { first: -0.108, last: 0.206 }, hiddenScore: { first: 0.782, last: 0.902 },
    eval: { before: { step: 0, passAtK: { '1': 0.688 } }, after: { step: 80, passAtK: { '1': 0.844 } } } } });
  assert.equal(good.hacking, false);
  assert.equal(good.short, 'hidden 0.78→0.9');
  const text = good.lines.join('\n');
  assert.match(text, /\*\*SFT\*\*: eval pass@1 0\.703/);
  assert.match(text, /held-out accuracy 0\.992 \(pairs differing only in correctness: 1\)/);
  assert.match(text, /orders 98\.4% of same-prompt pairs as the hidden rule, best-of-8 hidden score 0\.987 \(mean 0\.824\)/);
  assert.match(text, /RL reads \(RM − 10\.71\) \/ 8\.002/);
  assert.match(text, /\*\*PPO\*\*: RM score -0\.108 → 0\.206; hidden true score 0\.782 → 0\.902; eval pass@1 0\.688 → 0\.844/);
  const bad = pipelineSummary({ ...base, rl: { dir: 'stages/3-grpo', algorithm: 'grpo', checkpoint: 'c', rmScore: { first: 0.095, last: 0.422 }, hiddenScore: { first: 0.726, last: 0.609 } } });
  assert.equal(bad.hacking, true);
  assert.equal(bad.short, 'hidden 0.73→0.61 ⚠ hacking');
  assert.match(bad.lines.at(-1)!, /reward hacking/);
  // a dip within noise (0.02) is not called hacking; no RL stage yet: no verdict
  assert.equal(pipelineSummary({ ...base, rl: { dir: 'x', algorithm: 'ppo', checkpoint: 'c', rmScore: { first: 0, last: 0.3 }, hiddenScore: { first: 0.8, last: 0.78 } } }).hacking, false);
  assert.deepEqual([pipelineSummary(base).short, pipelineSummary(undefined).lines], [undefined, []]);
  // and the parent run's tree item carries it
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-tree-pipe-'));
  const w = makeRun(root, 'pipe', { stages: true });
  w.updateManifest({ pipeline: { ...base, rl: { dir: 'stages/3-grpo', algorithm: 'grpo', checkpoint: 'c', rmScore: { first: 0.095, last: 0.422 }, hiddenScore: { first: 0.726, last: 0.609 } } } });
  const model = new RunsTreeModel(new RunStore());
  const [node] = model.roots([w.dir]);
  const v = model.view(node);
  assert.match(v.description ?? '', /hidden 0\.73→0\.61 ⚠ hacking/);
  assert.match(String(v.tooltip), /reward hacking/);
  assert.deepEqual(v.icon, { id: 'warning', color: 'problemsWarningIcon.foreground' }, 'a warning icon, visible however narrow the side bar');
});

test('step rows say how many groups the file stores of how many the step generated, and which statistic covers what; text-only steps are marked', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-cut-'));
  const w = makeRun(root, 'cut');
  // 16 groups of 2 generated, zero-std over all 16 (11 of them): trace retention keeps 8 whole groups (16 samples)
  const groups = Array.from({ length: 16 }, (_, k) => ({ id: `g${k}`, prompt: `${k}+1=`, samples: [2 * k, 2 * k + 1], rewards: k < 11 ? [1, 1] : [1, 0], mean: k < 11 ? 1 : 0.5, std: k < 11 ? 0 : 0.7071 }));
  const samples = groups.flatMap((g) => g.rewards.map((r) => ({ group: g.id, prompt: g.prompt, completion: String(r), tokens: [String(r)], reward: r, length: 1 })));
  const kept = retainWholeGroups({ header: { step: 4, arrays: ['advantage'], groups }, samples, arrays: samples.map(() => ({ advantage: [0] })) }, 16);
  w.writeRolloutStep(kept.header, kept.samples, kept.arrays);
  w.metrics({ step: 4, values: { 'reward/mean': 0.8, frac_reward_zero_std: 11 / 16 } });
  // a step written whole, without per-token arrays (a summary step)
  w.writeRolloutStep({ step: 5, arrays: [], groups: groups.slice(0, 2) }, samples.slice(0, 4), samples.slice(0, 4).map(() => ({})));
  w.metrics({ step: 5, values: { 'reward/mean': 0.9, frac_reward_zero_std: 0.5 } });
  const model = new RunsTreeModel(new RunStore());
  const [run] = model.roots(discoverRuns(root));
  const steps = (await model.children(run)).find((c) => c.kind === 'steps')!;
  const [s5, s4] = await model.children(steps);
  const v4 = model.view(s4), v5 = model.view(s5);
  assert.equal(v4.description, 'r 0.8 · 8 of 16 groups stored · zero-std 69% of all 16');
  assert.equal((await model.children(s4)).length, 8, 'the row lists the 8 stored groups');
  assert.match(v4.tooltip!, /\*\*stored:\*\* 8 of 16 groups \(16 of 32 samples\): trace retention/);
  assert.match(v4.tooltip!, /\*\*metrics\*\* \(reward, kl, zero-std, …\) cover every group the step generated \(16\), stored or not/);
  assert.match(v4.tooltip!, /per-token traces stored/);
  assert.equal(v5.description, 'r 0.9 · zero-std 50%', 'nothing cut: no count needed');
  assert.match(v5.tooltip!, /text only/);
  assert.match(v5.tooltip!, /\*\*stored:\*\* all 2 groups \(4 samples\)/);
  assert.notEqual(v4.icon?.id, v5.icon?.id, 'traced and text-only steps look different');
});

test('a group row expands on click (no click command); the group view opens from its inline action', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-grp-'));
  const w = makeRun(root, 'grp');
  writeStep(w, 1);
  const model = new RunsTreeModel(new RunStore());
  const [run] = model.roots(discoverRuns(root));
  const steps = (await model.children(run)).find((c) => c.kind === 'steps')!;
  const [step1] = await model.children(steps);
  for (const g of await model.children(step1)) {
    const v = model.view(g);
    assert.equal(v.command, undefined, `${v.label}: a click must expand, not open a panel`);
    assert.equal(v.collapsible, 'collapsed');
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
  const inline = (pkg.contributes.menus['view/item/context'] as { command: string; when: string; group?: string }[])
    .filter((m) => m.command === 'rlLens.showGroup' && /^inline/.test(m.group ?? ''));
  assert.equal(inline.length, 1);
  const re = new RegExp(/viewItem =~ \/(.+?)\//.exec(inline[0].when)![1]);
  for (const ctx of ['rlLens.group', 'rlLens.group.filtered']) assert.ok(re.test(ctx), `${inline[0].when} shows on ${ctx}`);
});

test('run labels (issue 16 #9): name · start time, "#N" for the same name in the same second; unnamed runs keep their folder name', () => {
  const now = new Date(2026, 11, 5, 18, 0, 0);
  assert.equal(startStamp(new Date(2026, 11, 5, 14, 3, 5), now), '14:03:05');
  assert.equal(startStamp(new Date(2026, 0, 2, 3, 4, 5), now), 'Jan 2 03:04:05');
  assert.equal(startStamp(new Date(2025, 0, 2, 3, 4, 5), now), 'Jan 2 2025 03:04:05');
  const a = runDisplayLabel({ dir: '/r/grpo-arithmetic-20261205-140305', name: 'grpo-arithmetic' }, now);
  const b = runDisplayLabel({ dir: '/r/grpo-arithmetic-20261205-140305-2', name: 'grpo-arithmetic' }, now);
  const c = runDisplayLabel({ dir: '/r/x', name: 'grpo-arithmetic', startedAt: new Date(2026, 11, 5, 15, 0, 1).toISOString() }, now);
  assert.equal(a, 'grpo-arithmetic · 14:03:05');
  assert.equal(b, 'grpo-arithmetic · 14:03:05 #2');
  assert.equal(c, 'grpo-arithmetic · 15:00:01');
  assert.equal(new Set([a, b, c]).size, 3, 'three runs named grpo-arithmetic have three labels');
  // the supervisor (its own clock) and the tree (manifest startedAt, written a second later) agree: the folder's stamp wins
  assert.equal(runDisplayLabel({ dir: '/r/grpo-arithmetic-20261205-140305', name: 'grpo-arithmetic', startedAt: new Date(2026, 11, 5, 14, 3, 6).toISOString() }, now), a);
  assert.equal(runDisplayLabel({ dir: '/r/grpo-arithmetic-20261205-140305' }, now), 'grpo-arithmetic-20261205-140305');
  assert.equal(folderStartTime('/r/a-20261205-140305-3')?.getHours(), 14);
  assert.equal(folderStartTime('/r/plain'), undefined);
});

test('an imported run is never shown as a running trainer (no spinner, no Stop); warm-start phase in the description and status bar', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-imp-'));
  const dir = path.join(root, 'trl-run');
  const w = RunWriter.create(dir, { id: 'trl-run', name: 'Qwen-GRPO', algorithm: 'grpo', config: {}, source: { format: 'trl', path: '/somewhere' } });
  w.metrics({ step: 1, values: { 'reward/mean': 0.5 } });
  const native = path.join(root, 'native');
  RunWriter.create(native, { id: 'native', name: 'n', algorithm: 'grpo', config: {}, totalSteps: 100 });
  const store = new RunStore();
  let followed = true;
  const model = new RunsTreeModel(store, { isFollowed: () => followed, isSupervised: (d) => d === native, phaseOf: (d) => (d === native ? 'warm start 120/400' : undefined) });
  const v = model.view({ kind: 'run', runDir: dir });
  assert.equal(store.get(dir).status, 'running', 'the manifest says running while the source is followed');
  assert.notEqual(v.icon?.id, 'sync~spin');
  assert.equal(v.icon?.id, 'eye');
  assert.equal(v.contextValue, 'rlLens.run.following', 'not rlLens.run.running: no Stop button');
  assert.match(v.description ?? '', /following the source/);
  followed = false;
  const v2 = model.view({ kind: 'run', runDir: dir });
  assert.equal(v2.contextValue, 'rlLens.run.imported');
  assert.notEqual(v2.icon?.id, 'sync~spin');
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const stopWhen = pkg.contributes.menus['view/item/context'].filter((m: { command: string }) => m.command === 'rlLens.stopRun').map((m: { when: string }) => m.when);
  assert.ok(stopWhen.length > 0);
  for (const when of stopWhen) {
    const re = new RegExp(/viewItem =~ \/(.*?)\/(?:\s|$)/.exec(when)![1]);
    assert.ok(!re.test(v.contextValue) && !re.test(v2.contextValue), `Stop offered on an imported run: ${when}`);
  }
  // a supervised run in its warm start says so (tree and status bar)
  const nv = model.view({ kind: 'run', runDir: native });
  assert.match(nv.description ?? '', /^warm start 120\/400 · /);
  assert.equal(statusText({ name: 'n', status: 'running', phase: 'warm start 120/400', step: 0, totalSteps: 80 }), '$(sync~spin) RL Lens · warm start 120/400');
  // the status bar of a selected imported run: no spinner
  assert.equal(statusText({ name: 'q', status: 'following', step: 2, totalSteps: 2, backend: 'imported' }), '$(eye) RL Lens · 2/2 · imported');
  assert.equal(statusText({ name: 'q', status: 'imported', step: 2 }), '$(history) RL Lens · step 2');
});

test('Runs tree from the writer\'s metrics columns cache: what the tree shows equals reading the JSON, without parsing it; a host-written cache is not used', async () => {
  const { RunEntry } = await import('../../src/host/runStore');
  const { METRICS_CACHE_FILE } = await import('../../src/runio/metricsCache');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-seed-'));
  try {
    const w = makeRun(root, 'run');
    for (let s = 1; s <= 300; s++) {
      w.metrics({ step: s, time: s, values: { 'reward/mean': s / 300, kl: s % 7 === 0 ? NaN : 0.01 * s, loss: 1 / s, frac_reward_zero_std: 0.1, tokens_per_s: 50 + s, [`only_${s % 3}`]: s } });
      if (s % 50 === 0) {
        w.evalRecord({ step: s, time: s, passAtK: { 1: s / 1000, 4: s / 500 }, samplesPerPrompt: 4, numPrompts: 8 } as never);
        w.metrics({ step: s, time: s, split: 'eval', values: { 'eval/pass@1': s / 1000, 'reward/mean': 0.5 } });
      }
      if (s % 100 === 0) { writeStep(w, s); const d = w.checkpointDir(`step_${String(s).padStart(8, '0')}`); fs.writeFileSync(path.join(d, 'checkpoint.json'), JSON.stringify({ step: s, algorithm: 'grpo' })); }
    }
    w.updateManifest({ status: 'completed' });
    const dir = path.join(root, 'run');
    assert.ok(fs.existsSync(path.join(dir, METRICS_CACHE_FILE)), 'the writer left its cache');
    const seeded = new RunEntry(dir); seeded.refresh();
    assert.equal(seeded.bytesRead, 0, 'no metrics or eval line parsed');
    // the same folder without the cache: every line parsed
    const copy = path.join(root, 'copy');
    fs.cpSync(dir, copy, { recursive: true }); fs.rmSync(path.join(copy, '.rl-lens'), { recursive: true });
    const parsed = new RunEntry(copy); parsed.refresh();
    assert.ok(parsed.bytesRead > 0);
    assert.equal(seeded.lastStep, parsed.lastStep);
    const finite = (r: Record<string, number | null> | undefined) => Object.fromEntries(Object.entries(r ?? {}).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
    assert.deepEqual(seeded.latestMetrics, finite(parsed.latestMetrics));
    for (let s = 1; s <= 300; s++) assert.deepEqual(finite(seeded.metrics.get(s)), finite(parsed.metrics.get(s)), `step ${s}`);
    assert.deepEqual(seeded.checkpoints.map((c) => seeded.passAt1(c)), parsed.checkpoints.map((c) => parsed.passAt1(c)));
    assert.deepEqual(seeded.checkpoints.map((c) => seeded.passAt1(c)), [0.1, 0.2, 0.3]);
    // lines after the cache (a live run): read from its offsets, merged as before
    w.metrics({ step: 301, values: { 'reward/mean': 0.9 } });
    seeded.refresh();
    assert.equal(seeded.lastStep, 301);
    assert.equal(seeded.latestMetrics?.['reward/mean'], 0.9);
    assert.equal(seeded.bytesRead, fs.statSync(path.join(dir, 'metrics.jsonl')).size - fs.statSync(path.join(copy, 'metrics.jsonl')).size, 'only the appended line was parsed');
    // the host's cache of the copy (written on a dashboard open): the tree still parses (bad lines are reported)
    const { RunFollower } = await import('../../src/host/ui/panels/dataProvider');
    new RunFollower(copy).initialColumns();
    assert.ok(fs.existsSync(path.join(copy, METRICS_CACHE_FILE)));
    const again = new RunEntry(copy); again.refresh();
    assert.equal(again.bytesRead, parsed.bytesRead, 'a host-written cache is not a source for the tree');
  } finally { fs.rmSync(root, { recursive: true, force: true }); }
});
