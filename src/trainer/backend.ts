/**
 * Backend selection, at run time: `auto | tensorflow-gpu | tensorflow | wasm | cpu`.
 *
 * `auto` takes the first that loads: @tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node, @tensorflow/tfjs-backend-wasm,
 * then the pure-JS cpu backend. The native packages are optional: they are `require`d at run time (never bundled;
 * scripts/build.mjs marks them external), so `npm ci` works where their install script cannot download libtensorflow.
 *
 * wasm and cpu are imported statically (bundled together with our single tfjs-core).
 * One tfjs-core: every trainer module imports '@tensorflow/tfjs-core'. The native packages import '@tensorflow/tfjs'
 * (and so their own copy of tfjs-core when ours is bundled). That is fine because tfjs-core keeps its engine, kernel
 * registry and gradient registry on the global object (`globalThis._tfengine`, `kernelRegistry`, `gradRegistry`) and
 * `instanceof Tensor` is a duck-typed check (Symbol.hasInstance): a backend registered by another copy is visible to ours.
 * We still check after loading that the backend is registered in *our* engine and say so clearly if it is not
 * (that would happen only if the two copies had incompatible major versions: keep them at the same 4.x version).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
// tfjs-core alone registers no gradients: the union package @tensorflow/tfjs does this import; we need it too.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// a used binding keeps the CJS node build of the cpu backend (and its kernel registrations) in the esbuild bundle;
// a bare side-effect import is dropped there because of the package's "sideEffects" list
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import type { BackendInfo, BackendName } from '../shared/runFormat';

export type BackendRequest = 'auto' | BackendName;
export const BACKEND_CHOICES: BackendRequest[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export const INSTALL_HINTS: Record<BackendName, string> = {
  'tensorflow-gpu': 'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (or the "RL Lens: Install GPU Backend" command); it needs Linux x86_64, an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1 on the library path, and network access at install time (its install script downloads libtensorflow)',
  tensorflow: 'install it with `npm install @tensorflow/tfjs-node@4.22.0`; it needs Linux/macOS/Windows x86_64 (or arm64 macOS) and network access at install time (its install script downloads libtensorflow)',
  wasm: 'the package @tensorflow/tfjs-backend-wasm is a dependency of RL Lens: reinstall with `npm ci`; its .wasm files must be in dist/wasm next to the trainer bundle',
  cpu: 'the package @tensorflow/tfjs-backend-cpu is a dependency of RL Lens: reinstall with `npm ci`',
};

export class BackendError extends Error {}

/** Runtime require that esbuild does not try to bundle. */
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const dynamicRequire: NodeRequire = typeof require === 'function' ? require : (new Function('m', 'return require(m)') as NodeRequire);

function errMsg(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 300);
}

/** Directory holding tfjs-backend-wasm*.wasm: dist/wasm next to the bundle, else the package's own dist (tsx from sources). */
export function wasmDir(): string {
  const candidates = [path.join(__dirname, 'wasm'), path.join(__dirname, '..', 'wasm'), path.join(__dirname, '..', '..', 'dist', 'wasm')];
  try { candidates.push(path.dirname(dynamicRequire.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))); } catch { /* not resolvable */ }
  try { candidates.push(path.join(path.dirname(dynamicRequire.resolve('@tensorflow/tfjs-backend-wasm')), '')); } catch { /* not resolvable */ }
  for (const c of candidates) if (fs.existsSync(path.join(c, 'tfjs-backend-wasm.wasm'))) return c;
  throw new BackendError(`wasm backend: no tfjs-backend-wasm.wasm found (looked in ${candidates.join(', ')}); ${INSTALL_HINTS.wasm}`);
}

async function tryNative(name: 'tensorflow-gpu' | 'tensorflow'): Promise<BackendInfo> {
  const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  let mod: unknown;
  try {
    mod = dynamicRequire(pkg);
  } catch (e) {
    throw new BackendError(`${name}: ${pkg} is not installed or does not load (${errMsg(e)}); ${INSTALL_HINTS[name]}`);
  }
  void mod;
  if (!tf.findBackendFactory('tensorflow')) {
    throw new BackendError(`${name}: ${pkg} loaded but its backend is not registered in this tfjs-core (two incompatible tfjs-core copies?); keep @tensorflow/tfjs-core and ${pkg} at the same version (4.22.0)`);
  }
  const ok = await tf.setBackend('tensorflow');
  if (!ok) throw new BackendError(`${name}: ${pkg} loaded but the backend failed to initialise; ${INSTALL_HINTS[name]}`);
  const info: BackendInfo = { name, threads: os.cpus().length };
  if (name === 'tensorflow-gpu') {
    const gpu = detectGpuName();
    if (gpu) info.gpu = gpu;
  }
  return info;
}

/** GPU name via nvidia-smi when present (tfjs-node-gpu has no API for it). */
export function detectGpuName(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const cp = dynamicRequire('child_process') as typeof import('child_process');
    const out = cp.execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    const names = out.split('\n').map((s) => s.trim()).filter(Boolean);
    return names.length ? names.join(', ') : undefined;
  } catch {
    return undefined;
  }
}

async function tryWasm(threads?: number): Promise<BackendInfo> {
  const dir = wasmDir();
  wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
  // threads: requested, but Node has no SharedArrayBuffer-backed worker support in this build
  // (WASM_HAS_MULTITHREAD_SUPPORT is false in Node), so the single-threaded binary is used; we report what runs.
  if (threads && threads > 1) { try { wasm.setThreadsCount(threads); } catch { /* ignored by the backend in Node */ } }
  // The emscripten glue installs process-wide uncaughtException/unhandledRejection handlers that rethrow and print the
  // whole minified module source. Remove the handlers it adds so our own error reporting stays readable.
  const before = { u: process.listeners('uncaughtException'), r: process.listeners('unhandledRejection') };
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
    await tf.ready();
  } finally {
    for (const l of process.listeners('uncaughtException')) if (!before.u.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.r.includes(l)) process.removeListener('unhandledRejection', l);
  }
  if (!ok) throw new BackendError(`wasm: the backend failed to initialise (wasm files in ${dir}); ${INSTALL_HINTS.wasm}`);
  await tf.ready();
  shareIdentityOnWasm();
  let simd: boolean | undefined;
  let multi = false;
  try { simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')); } catch { simd = undefined; }
  try { multi = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')); } catch { multi = false; }
  let actual = 1;
  if (multi) { try { actual = wasm.getThreadsCount(); } catch { actual = 1; } }
  return { name: 'wasm', threads: actual, simd };
}

/**
 * tfjs autodiff clones every tensor it saves for the backward pass (engine.saveTensorsForBackwardMode → Identity).
 * The wasm Identity kernel copies the data; the cpu backend shares it (incRef), as wasm's own Reshape does. Tensors are
 * immutable in tfjs (variables get new data on assign), so sharing is safe; it saved ~8% of a training step here.
 */
let identityShared = false;
function shareIdentityOnWasm(): void {
  if (identityShared) return;
  identityShared = true;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

async function tryCpu(): Promise<BackendInfo> {
  if (!version_cpu || !tf.findBackendFactory('cpu')) throw new BackendError(`cpu: backend not registered; ${INSTALL_HINTS.cpu}`);
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new BackendError(`cpu: the backend failed to initialise; ${INSTALL_HINTS.cpu}`);
  return { name: 'cpu', threads: 1 };
}

let current: BackendInfo | undefined;

/** The backend chosen by the last initBackend call. */
export function currentBackend(): BackendInfo | undefined { return current; }

/**
 * Select and initialise a backend. Throws BackendError (message says what to install and what it needs)
 * when an explicitly named backend is unavailable; `auto` falls through and records why in `skipped`.
 */
export async function initBackend(requested: BackendRequest | string = 'auto', opts: { threads?: number } = {}): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(requested as BackendRequest)) {
    throw new BackendError(`backend: unknown value ${JSON.stringify(requested)}; allowed: ${BACKEND_CHOICES.join(', ')}`);
  }
  const threads = opts.threads ?? Math.max(1, os.cpus().length);
  const attempt = (n: BackendName): Promise<BackendInfo> => {
    switch (n) {
      case 'tensorflow-gpu': return tryNative('tensorflow-gpu');
      case 'tensorflow': return tryNative('tensorflow');
      case 'wasm': return tryWasm(threads);
      case 'cpu': return tryCpu();
    }
  };
  let info: BackendInfo;
  if (requested === 'auto') {
    const skipped: { name: string; reason: string }[] = [];
    let found: BackendInfo | undefined;
    for (const n of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as BackendName[]) {
      try { found = await attempt(n); break; } catch (e) { skipped.push({ name: n, reason: errMsg(e) }); }
    }
    if (!found) throw new BackendError(`backend auto: no backend loads:\n${skipped.map((s) => `  ${s.name}: ${s.reason}`).join('\n')}`);
    info = { ...found, requested: 'auto', skipped };
  } else {
    info = { ...(await attempt(requested as BackendName)), requested };
  }
  current = info;
  return info;
}

/** One line for the terminal. */
export function describeBackend(b: BackendInfo): string {
  const parts = [`backend ${b.name}`];
  if (b.requested && b.requested !== b.name) parts.push(`(requested ${b.requested})`);
  if (b.gpu) parts.push(`gpu ${b.gpu}`);
  if (b.threads !== undefined) parts.push(`threads ${b.threads}`);
  if (b.simd !== undefined) parts.push(`simd ${b.simd ? 'on' : 'off'}`);
  if (b.skipped?.length) parts.push(`skipped: ${b.skipped.map((s) => s.name).join(', ')}`);
  return parts.join(' ');
}
