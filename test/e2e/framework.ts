// Tiny UI end-to-end framework: test/e2e/*.e2e.ts files register tests with `test(name, fn)`; the harness
// (test/harness/e2e.mjs) starts, per FILE, a fresh code-server with the built extension installed and a fresh
// headless Chromium on its workbench, then runs the file's tests in order on that one page. See docs/testing.md.
//
//   import { test, configure, assert } from './framework';
//   configure({ workspace: (dir) => { /* write files into the fresh workspace folder */ } });
//   test('Runs view opens', async ({ page, wb, screenshot }) => {
//     await wb.openViewContainer('RL Lens');
//     await wb.treeView('Runs').waitFor({ state: 'visible' });
//     await screenshot('runs-view');
//   });
import type { Page, Locator, FrameLocator } from 'playwright-core';
import * as assert from 'node:assert/strict';

export interface E2EContext {
  /** the workbench page (playwright-core Page) */
  page: Page;
  /** workbench helpers: command palette, views, trees, webviews, notifications */
  wb: Workbench;
  /** saves test-output/screenshots/<file>-<name>.png (whole page, or one locator) and returns its path */
  screenshot(name: string, target?: Locator): Promise<string>;
  /** absolute path of the workspace folder opened in the workbench (fresh per file) */
  workspace: string;
  /** absolute path of the repository (fixtures: path.join(repo, 'test/fixtures/...')) */
  repo: string;
  log(...args: unknown[]): void;
}

export type E2EFn = (ctx: E2EContext) => Promise<void>;
export interface E2ETestOptions { timeout?: number; skip?: boolean | string }
export interface E2EFileConfig {
  /** fills the fresh workspace folder before VS Code starts */
  workspace?: (dir: string) => void | Promise<void>;
  /** extra user settings.json entries (on top of the harness's quiet defaults) */
  settings?: Record<string, unknown>;
  /** false: workspace trust is on and the folder starts untrusted */
  trust?: boolean;
  /** extra environment for the server (so for the extension host and the trainer it spawns) */
  env?: Record<string, string>;
  /** default per-test timeout in ms (60 000) */
  timeout?: number;
}
export interface RegisteredTest { name: string; fn: E2EFn; options: E2ETestOptions }
export interface RegisteredFile { config: E2EFileConfig; tests: RegisteredTest[] }

/** Repository root (for fixtures: path.join(repoRoot, 'test/fixtures/...')). Test files are bundled, so do not use __dirname. */
export const repoRoot: string = process.env.RL_LENS_REPO ?? process.cwd();

// the registry lives on globalThis so the harness and the test files share it however they were loaded
const g = globalThis as unknown as { __rlLensE2E?: RegisteredFile };
function current(): RegisteredFile { return (g.__rlLensE2E ??= { config: {}, tests: [] }); }

/** Registers a UI test. Tests of one file run in order, on one workbench page. */
export function test(name: string, fn: E2EFn, options: E2ETestOptions = {}): void { current().tests.push({ name, fn, options }); }
/** Registers a test that is reported as skipped (say why). */
test.skip = (name: string, reason = 'skipped', _fn?: E2EFn): void => { current().tests.push({ name, fn: async () => {}, options: { skip: reason } }); };
/** Per-file setup: workspace contents, settings, trust, env, timeout. */
export function configure(config: E2EFileConfig): void { Object.assign(current().config, config); }

/** node:assert/strict, re-exported; for waiting use locator.waitFor(...) or poll(...). */
export { assert };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value (returned) or throws after timeoutMs with `what` in the message. */
export async function poll<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000, everyMs = 200): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

/** Helpers over VS Code's workbench DOM (VS Code 1.99 / code-server 4.99). */
export class Workbench {
  constructor(readonly page: Page) {}

  /** Waits for the workbench to be interactive (activity bar, status bar, and the extension's container icon). */
  async waitForWorkbench(opts: { container?: string; timeout?: number } = {}): Promise<void> {
    const timeout = opts.timeout ?? 60_000;
    await this.page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout });
    await this.page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout });
    if (opts.container !== '') await this.activityBarItem(opts.container ?? 'RL Lens').waitFor({ state: 'visible', timeout });
  }

  /** The activity-bar entry (the `a.action-label`) of a view container, by title ("RL Lens", "Explorer"...). */
  activityBarItem(title: string): Locator {
    return this.page.locator(`.part.activitybar .action-item a[aria-label^="${title}"]`).first();
  }

  /** Opens a view container from the activity bar (no-op if it is already showing). */
  async openViewContainer(title: string): Promise<void> {
    const li = this.page.locator('.part.activitybar .action-item').filter({ has: this.page.locator(`a[aria-label^="${title}"]`) }).first();
    if ((await li.getAttribute('aria-selected')) !== 'true') await li.locator('a').click();
    await poll(`view container "${title}" to show`, async () => (await li.getAttribute('aria-selected')) === 'true', 10_000);
    await this.page.locator('.part.sidebar').waitFor({ state: 'visible' });
  }

  /** Opens the command palette (F1) with `>query` typed, waits for results and returns the visible labels. */
  async paletteItems(query: string): Promise<string[]> {
    await this.openPalette(query);
    const rows = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    await rows.first().waitFor({ state: 'visible', timeout: 10_000 });
    await sleep(150); // the list refines as filtering settles
    const labels = await rows.evaluateAll((els) => els.map((e) => (e.querySelector('.label-name')?.textContent ?? e.getAttribute('aria-label') ?? '').trim()));
    return labels;
  }

  private async openPalette(query: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input.input');
    if (!(await input.isVisible().catch(() => false))) {
      await this.page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
    }
    await input.fill(`>${query}`);
  }

  /** Closes any open quick input (Escape). */
  async closeQuickInput(): Promise<void> {
    const w = this.page.locator('.quick-input-widget');
    if (await w.isVisible().catch(() => false)) { await this.page.keyboard.press('Escape'); await w.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {}); }
  }

  /** Runs a command by its palette title ("RL Lens: Start Run…"): F1, type, click the row whose label is exactly the title. */
  async runCommand(title: string): Promise<void> {
    await this.openPalette(title);
    const row = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ has: this.page.locator('.label-name', { hasText: title }) });
    const exact = await poll(`palette row "${title}"`, async () => {
      const n = await row.count();
      for (let i = 0; i < n; i++) {
        // the row's main label (rows reused from quick picks with details keep a hidden second .label-name)
        const t = ((await row.nth(i).locator('.label-name').first().textContent()) ?? '').trim();
        if (t === title) return row.nth(i);
      }
      return undefined;
    }, 10_000);
    await exact.click();
  }

  /** Picks an item in an open quick pick (after a command asked something) by its label text. */
  async pickQuickItem(label: string | RegExp): Promise<void> {
    const row = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: label });
    // the list is virtualised: an item below the fold is not in the DOM until the list scrolls to it
    // (long lists: Start Run offers ~40 presets) — scroll down a page at a time, then from the top once more
    const deadline = Date.now() + 20_000;
    let first = true, wrapped = false, lastShown = '';
    for (;;) {
      try { await row.first().waitFor({ state: 'visible', timeout: first ? 1_500 : 400 }); break; } catch (e) {
        if (Date.now() > deadline) throw e;
        first = false;
        const list = this.page.locator('.quick-input-widget .quick-input-list');
        if (!(await list.isVisible().catch(() => false))) continue;
        await list.hover().catch(() => undefined);
        // the rows in the DOM now; the same rows after a scroll = the end of the list: go back to the top once
        const shown = (await list.locator('.monaco-list-row').allTextContents().catch(() => [] as string[])).join('\n');
        if (shown === lastShown && !wrapped) { wrapped = true; await this.page.mouse.wheel(0, -100_000); lastShown = ''; continue; }
        lastShown = shown;
        await this.page.mouse.wheel(0, 400);
      }
    }
    await row.first().click();
  }

  /** Types into an open input box / quick pick and presses Enter. */
  async answerInput(text: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(text);
    await this.page.keyboard.press('Enter');
  }

  /**
   * Answers VS Code's simple file dialog (showOpenDialog / showSaveDialog in the web workbench): waits until the
   * dialog has pre-filled its path (typing earlier races with it), replaces it with `p`, checks it stuck, presses
   * Enter. For a folder picker, pass the folder path with a trailing '/' and call `acceptFileDialog()` if it
   * navigates into the folder instead of accepting it.
   */
  async fillFileDialog(p: string, timeout = 15_000): Promise<void> {
    const input = this.page.locator('.quick-input-widget input.input');
    await poll('the file dialog to pre-fill its path', async () => {
      const v = await input.inputValue().catch(() => '');
      return /^(\/|~|[A-Za-z]:)/.test(v) ? v : undefined;
    }, timeout);
    await input.fill(p);
    await poll(`the file dialog path to read ${p}`, async () => (await input.inputValue()) === p, 5_000);
    await this.page.keyboard.press('Enter');
  }

  /** Clicks the file dialog's OK button (its label is the dialog's openLabel, e.g. "Open Run"). */
  async acceptFileDialog(): Promise<void> {
    const ok = this.page.locator('.quick-input-widget .quick-input-action .monaco-button, .quick-input-widget .monaco-button').first();
    if (await ok.isVisible().catch(() => false)) await ok.click();
  }

  /** A view (pane) in the side bar by its name ("Runs"). Single-view containers hide the pane header; this still finds it. */
  treeView(name: string): Locator {
    const byHeader = this.page.locator('.part.sidebar .pane').filter({ has: this.page.locator('.pane-header', { hasText: name }) });
    const byAria = this.page.locator(`.part.sidebar .pane-body[aria-label*="${name}"], .part.sidebar [id="workbench.view.extension.rlLens"] .pane`).first();
    return byHeader.or(byAria).first();
  }

  /** Rows of a tree view; filter by text with `.filter({ hasText })` or use treeItem(). */
  treeRows(view: string): Locator { return this.treeView(view).locator('.monaco-list-row'); }

  /** A row of a tree view whose label contains `label`. */
  treeItem(view: string, label: string | RegExp): Locator { return this.treeRows(view).filter({ hasText: label }).first(); }

  /** Expands a collapsed tree row (click its twistie) and waits until it is expanded. */
  async expand(row: Locator): Promise<void> {
    if ((await row.getAttribute('aria-expanded')) === 'false') await row.click();
    await poll('tree row to expand', async () => (await row.getAttribute('aria-expanded')) === 'true', 10_000);
  }

  /** Inside the active webview: VS Code wraps each webview in two iframes. */
  webviewFrame(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  }

  /** A webview by its panel title (when several are open): the frame of the editor group showing `title`. */
  webviewFrameByTitle(title: string): FrameLocator {
    return this.page.locator(`iframe.webview.ready[title*="${title}"]`).first().contentFrame().frameLocator('iframe#active-frame');
  }

  /** Titles of the open editor tabs. */
  async tabTitles(): Promise<string[]> {
    return this.page.locator('.tabs-container .tab').evaluateAll((els) => els.map((e) => (e.getAttribute('aria-label') ?? e.textContent ?? '').trim()));
  }

  /** Waits for an editor tab whose title contains `title` (webview tabs appear asynchronously). */
  async waitForTab(title: string, timeout = 20_000): Promise<Locator> {
    const tab = this.page.locator('.tabs-container .tab').filter({ hasText: title }).first();
    await tab.waitFor({ state: 'visible', timeout });
    return tab;
  }

  /** Texts of the visible notification toasts. */
  async notifications(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-toast .notification-list-item-message').evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()));
  }

  /** Waits for a notification whose text matches. */
  async waitForNotification(text: string | RegExp, timeout = 30_000): Promise<string> {
    return poll(`a notification matching ${String(text)}`, async () => (await this.notifications()).find((t) => (typeof text === 'string' ? t.includes(text) : text.test(t))), timeout);
  }

  /** Status-bar item texts. */
  async statusBarTexts(): Promise<string[]> {
    return this.page.locator('.part.statusbar .statusbar-item').evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()).filter(Boolean));
  }
}
