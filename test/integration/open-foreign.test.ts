// Runs INSIDE a real VS Code extension host (code-server here; see docs/testing.md). Issue 10 acceptance:
// "RL Lens: Open Run…" (rlLens.openRun) on the logs of other trainers — OpenRLHF RLLoggingBoard JSONL, verl rollout
// dumps + file-logger metrics, TRL completions parquet + trainer_state.json (fixtures in test/fixtures/importers/) —
// detects the format and says which, converts the logs, and shows the run in the Runs tree with its steps and rollout
// groups; for the RLLoggingBoard run the token heatmap opens on the converted per-token arrays.
// The expected counts are computed here from the fixture SOURCE files (the JSONL lines, and trl_rows.json, the rows
// the TRL parquet fixture was written from), not from the importer's output.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RlLensApi } from '../../src/extension';
import type { RunNode } from '../../src/host/ui/model/runsTreeModel';
import { readManifest, readRolloutStep, readSampleArrays } from '../../src/runio/reader';
import type { LensPanel } from '../../src/host/ui/panels/panel';
import { EXTENSION_ID, log, api, ws, until } from './helpers';


function repo(): string {
  const r = process.env.RL_LENS_REPO;
  assert.ok(r, 'RL_LENS_REPO is not set (the harness sets it to the repository root)');
  return r;
}

/** A copy of a fixture folder outside the repository (nothing is written into the repo), next to the workspace. */
let scratchDir: string | undefined;
function scratch(): string { return scratchDir ??= path.join(path.dirname(ws()), `open-foreign-${process.pid}-${Date.now()}`); }
function copyFixture(rel: string): string {
  const dst = path.join(scratch(), path.basename(rel));
  fs.cpSync(path.join(repo(), 'test', 'fixtures', 'importers', rel), dst, { recursive: true });
  return dst;
}

/** Per step: number of samples and of distinct prompts (= the rollout groups), from source rows. */
type Expected = Map<number, { samples: number; groups: number }>;
function expectFrom(rows: { step: number; prompt: string }[]): Expected {
  const by = new Map<number, { samples: number; prompts: Set<string> }>();
  for (const r of rows) {
    const e = by.get(r.step) ?? { samples: 0, prompts: new Set<string>() };
    e.samples++; e.prompts.add(r.prompt);
    by.set(r.step, e);
  }
  return new Map([...by].map(([s, e]) => [s, { samples: e.samples, groups: e.prompts.size }]));
}
function jsonlRows(files: string[]): Record<string, unknown>[] {
  return files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>));
}

/** Open Run on `src`, then check: format said and recorded, algorithm, the tree's steps / groups / samples. */
async function openAndCheck(a: RlLensApi, src: string, format: string, algorithm: string, expected: Expected): Promise<string> {
  const t0 = Date.now();
  const before = a.commands.shown.length;
  const out = await vscode.commands.executeCommand<string | undefined>('rlLens.openRun', { runDir: src });
  assert.ok(out, `Open Run returned nothing for ${src}; messages: ${a.commands.shown.slice(before).join(' | ')}`);
  log(`Open Run ${path.basename(src)} (${format}): ${Date.now() - t0} ms → ${out}`);
  assert.notEqual(path.resolve(out), path.resolve(src), 'foreign logs are converted into a run folder of their own');
  assert.ok(!out.startsWith(src + path.sep) && !out.startsWith(path.join(repo(), 'test') + path.sep), `the converted run is written neither into the source logs nor the repository's fixtures: ${out}`);
  // says which format it detected
  const said = a.commands.shown.slice(before).join('\n');
  assert.match(said, new RegExp(`opened ${path.basename(src).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} as ${format}\\b`), `the message names the format: ${said}`);
  // manifest: source format, algorithm
  const m = readManifest(out);
  assert.equal(m.source?.format, format);
  assert.equal(path.resolve(String(m.source?.path)), path.resolve(src));
  assert.equal(m.algorithm, algorithm);
  // Runs tree: the run, with its steps and groups
  assert.ok(a.tree.knownRuns().includes(out), `the tree knows ${out}: ${a.tree.knownRuns().join(', ')}`);
  const run = await until(`run ${path.basename(out)} in the tree`, async () => (await a.tree.getChildren()).find((n) => n.kind === 'run' && n.runDir === out));
  const desc = a.tree.model.view(run).description ?? '';
  assert.match(desc, new RegExp(`^${algorithm}\\b.*from ${format}`), `run description: ${desc}`);
  const kids = await a.tree.getChildren(run);
  const stepsNode = kids.find((k) => k.kind === 'steps');
  assert.ok(stepsNode, `a Steps node: ${kids.map((k) => k.kind).join(', ')}`);
  const steps = (await a.tree.getChildren(stepsNode)).filter((n): n is Extract<RunNode, { kind: 'step' }> => n.kind === 'step');
  assert.deepEqual(steps.map((s) => s.step).sort((x, y) => x - y), [...expected.keys()].sort((x, y) => x - y), 'steps in the tree');
  for (const s of steps) {
    const exp = expected.get(s.step)!;
    const groups = await a.tree.getChildren(s);
    assert.ok(groups.every((g) => g.kind === 'group'), `step ${s.step}: children are groups (${groups.map((g) => g.kind).join(', ')})`);
    assert.equal(groups.length, exp.groups, `step ${s.step}: groups`);
    let samples = 0;
    for (const g of groups) samples += (await a.tree.getChildren(g)).filter((x) => x.kind === 'sample').length;
    assert.equal(samples, exp.samples, `step ${s.step}: samples over all groups`);
  }
  return out;
}

describe('Open Run on foreign logs (issue 10)', function () {
  this.timeout(120_000);
  const opened: string[] = [];

  after(async () => {
    const a = await api();
    for (const p of [...a.panels.panels]) if (opened.some((d) => p.runDirs.includes(d))) p.dispose();
    for (const d of opened) await vscode.commands.executeCommand('rlLens.deleteRun', { runDir: d, skipConfirm: true });
    if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
  });

  it('OpenRLHF RLLoggingBoard JSONL: detected as rllb, steps and groups in the tree, per-token arrays, token heatmap opens', async () => {
    const a = await api();
    const src = copyFixture('rllb/poem_task');
    const rows = jsonlRows(fs.readdirSync(src).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(src, f)));
    assert.equal(rows.length, 18, 'fixture: 2 ranks × 9 lines');
    const expected = expectFrom(rows.map((r) => ({ step: r.step as number, prompt: r.prompt as string })));
    assert.deepEqual([...expected.values()], [{ samples: 6, groups: 3 }, { samples: 6, groups: 3 }, { samples: 6, groups: 3 }], 'fixture: 3 steps × 3 prompts × 2 ranks');
    const out = await openAndCheck(a, src, 'rllb', 'ppo', expected); // values present → PPO (docs/importers.md)
    opened.push(out);

    // the converted step lists the per-token arrays, and they hold the source's numbers (float32: |Δ| ≤ 1e-6·max(1,|x|))
    const st = readRolloutStep(out, 1);
    for (const name of ['token_reward', 'value', 'logprob', 'ref_logprob']) assert.ok(st.header.arrays.includes(name), `step 1 header arrays ${JSON.stringify(st.header.arrays)} lack ${name}`);
    const srcRow = rows.find((r) => r.step === 1 && typeof r.response === 'string' && (r.response as string).includes('hat'))!;
    assert.ok(srcRow, 'fixture row with "hat"');
    const sample = st.samples.find((s) => s.completion === srcRow.response);
    assert.ok(sample, `a converted sample with completion ${JSON.stringify(srcRow.response)}`);
    assert.deepEqual(sample.tokens, srcRow.response_tokens);
    const arr = readSampleArrays(out, st.header, sample);
    const pairs: [string, string][] = [['token_reward', 'token_rewards'], ['value', 'values'], ['logprob', 'logprobs'], ['ref_logprob', 'ref_logprobs']];
    for (const [mine, theirs] of pairs) {
      const want = srcRow[theirs] as number[];
      const got = Array.from(arr[mine]);
      assert.equal(got.length, want.length, `${mine}: length`);
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `${mine}[${i}] = ${got[i]}, source ${theirs}[${i}] = ${w}`));
    }

    // the token heatmap opens on step 1 of the converted run, in a visible webview panel, and the webview reads the step
    const t0 = Date.now();
    const panel = await vscode.commands.executeCommand<LensPanel | undefined>('rlLens.showHeatmap', { runDir: out, step: 1 });
    assert.ok(panel, 'showHeatmap returned a panel');
    assert.equal(panel.view, 'heatmap');
    assert.equal(panel.panel.viewType, 'rlLens.heatmap');
    assert.ok(a.panels.panels.has(panel), 'the panel manager tracks it');
    assert.deepEqual(panel.runDirs.map((d) => path.resolve(d)), [path.resolve(out)]);
    await until('the heatmap panel to be visible', () => panel.panel.visible);
    // (the editor tab model reaches the extension host asynchronously)
    const allTabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs);
    const tab = await until('a webview tab of type rlLens.heatmap', () => allTabs().find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('rlLens.heatmap')))
      .catch((e: Error) => { throw new Error(`${e.message}; tabs: ${allTabs().map((t) => `${t.label} (${t.input instanceof vscode.TabInputWebview ? t.input.viewType : typeof t.input})`).join(', ')}`); });
    assert.ok(tab.isActive, 'the heatmap tab is the active one');
    // the windowed heatmap (issue 18) asks for the step's overview (rollout/overview), not the whole step
    await until('the heatmap webview to load the converted step', () => panel.received.includes('notification:ready') && panel.received.includes('request:rollout/overview'), 60_000)
      .catch((e: Error) => { throw new Error(`${e.message}; received: ${panel.received.join(', ')}`); });
    log(`heatmap ready and step requested after ${Date.now() - t0} ms (${panel.received.join(', ')})`);
  });

  it('verl rollout dumps + file-logger metrics: detected as verl, steps and groups in the tree', async () => {
    const a = await api();
    const src = copyFixture('verl/gsm8k_grpo');
    const dumps = fs.readdirSync(path.join(src, 'rollout')).filter((f) => f.endsWith('.jsonl')).map((f) => path.join(src, 'rollout', f));
    const expected = expectFrom(jsonlRows(dumps).map((r) => ({ step: r.step as number, prompt: r.input as string })));
    assert.equal(expected.size, 3, 'fixture: 3 rollout dumps');
    // no critic/vf_* or critic/values in the file logger's metrics → GRPO (src/importers/verl.ts algorithm())
    const out = await openAndCheck(a, src, 'verl', 'grpo', expected);
    opened.push(out);
  });

  it('TRL completions parquet + trainer_state.json: detected as trl, steps and groups in the tree', async () => {
    const a = await api();
    const rowsFile = path.join(repo(), 'test', 'fixtures', 'importers', 'trl', 'trl_rows.json');
    const rowsByStep = JSON.parse(fs.readFileSync(rowsFile, 'utf8')) as Record<string, { step: string; prompt: string }[]>;
    const expected = expectFrom(Object.values(rowsByStep).flat().map((r) => ({ step: Number(r.step), prompt: r.prompt })));
    assert.equal(expected.size, 2, 'fixture: 2 parquet files');
    const src = copyFixture('trl/Qwen2-0.5B-GRPO');
    const out = await openAndCheck(a, src, 'trl', 'grpo', expected);
    opened.push(out);
  });

  it('a folder that is not a run nor known logs is refused with a message naming what can be opened', async () => {
    const a = await api();
    const empty = path.join(scratch(), 'not-logs');
    fs.mkdirSync(empty, { recursive: true });
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'hello\n');
    const before = a.commands.shown.length;
    const out = await vscode.commands.executeCommand<string | undefined>('rlLens.openRun', { runDir: vscode.Uri.file(empty).fsPath });
    assert.equal(out, undefined);
    assert.match(a.commands.shown.slice(before).join('\n'), /is not a run RL Lens can open: .*TRL .*verl .*RLLoggingBoard/s);
  });
});
