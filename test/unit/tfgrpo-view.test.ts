// Training-Free GRPO in the group view (src/webview/views/experience.ts, hooked into views/rollouts.ts), in the REAL
// webview bundle in headless Chromium with the fake host (test/browser/harness.ts): the library the step's rollouts
// saw and the selected group's operations with their rationale; experience text is untrusted and shown as text.
// Skipped without /usr/bin/chromium.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { chromiumMissing, groupViewSuite } from '../browser/harness';
import { makeRun } from '../fixtures/makeRun';

const missing = chromiumMissing();
if (missing) test(`tfgrpo view browser tests (${missing})`, { skip: missing }, () => undefined);

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

/** Add a library and operations to every rollout step header of a run (what rl/trainingFree.ts writes). */
function withLibrary(dir: string): void {
  const rdir = path.join(dir, 'rollouts');
  for (const f of fs.readdirSync(rdir).filter((n) => /^step_\d+\.jsonl$/.test(n))) {
    const lines = fs.readFileSync(path.join(rdir, f), 'utf8').split('\n');
    const h = JSON.parse(lines[0]);
    h.experiences = [{ id: '0', text: '?a+b=' }, { id: '3', text: HOSTILE }];
    h.experienceOps = [
      { op: 'modify', id: '3', text: HOSTILE, previous: '?a+b=c c', rationale: 'the best answered its last result', group: 'g0', applied: true },
      { op: 'add', text: '?a+b+c=', rationale: 'too long', group: 'g0', applied: false, reason: 'the library would take 23 tokens > 18' },
      { op: 'add', id: '4', text: '?a=', rationale: 'other group', group: 'g1', applied: true },
    ];
    lines[0] = JSON.stringify(h);
    fs.writeFileSync(path.join(rdir, f), lines.join('\n'));
  }
  // the step index caches headers' summaries only; drop it so nothing stale is read
  fs.rmSync(path.join(rdir, 'index.jsonl'), { force: true });
}

describe('group view: the experience library of Training-Free GRPO', { skip: missing }, () => {
  let run = '', plain = '';
  const { open } = groupViewSuite('rl-lens-tfgrpo-', (tmp) => {
    run = makeRun({ dir: path.join(tmp, 'tf'), algorithm: 'grpo', steps: 5, seed: 3 });
    withLibrary(run);
    plain = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 5, seed: 3 });
  });

  test('the library the rollouts saw, this group\'s operations (rejected ones with the reason), model text as text', async () => {
    const v = await open(run);
    const p = v.page;
    await p.waitForSelector('#group-experiences');
    assert.match((await p.locator('#group-experiences').textContent())!, /experience library these rollouts saw \(2\)/);
    // spaces are shown as ␣ (displayText, as the prompt): they are part of the text the model reads
    assert.deepEqual(await p.locator('#experience-list li').allTextContents(), ['#0 ?a+b=', `#3 ${HOSTILE.replace(/ /g, '␣')}`]);
    const ops = await p.locator('#experience-ops li').allTextContents();
    assert.equal(ops.length, 2, 'only the operations of group g0');
    assert.match(ops[0], /^modify #3 .* \(was "\?a\+b=c␣c"\) — the best answered its last result$/);
    assert.match(ops[1], /^add "\?a\+b\+c=" REJECTED: the library would take 23 tokens > 18 — too long$/);
    assert.equal(await p.locator('#group-experiences img').count(), 0, 'experience text became markup');
    assert.equal(await p.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  });

  test('runs of other algorithms show no library block', async () => {
    const v = await open(plain);
    await v.page.waitForSelector('#group-table');
    assert.equal(await v.page.locator('#group-experiences').count(), 0);
  });
});
