/**
 * Model files from the Hugging Face Hub, in the standard Hugging Face cache, with the maintained client
 * (`@huggingface/hub` downloadFileToCacheDir: `<cache>/models--owner--repo/{blobs,snapshots/<commit>}/...`).
 *
 * Ids: `hf:owner/repo[/subfolder][@revision]`, e.g. `hf:karpathy/tinyllamas/stories260K`.
 * Environment, as huggingface_hub reads it: HF_ENDPOINT (default https://huggingface.co), HF_HUB_CACHE or
 * HF_HOME/hub (default ~/.cache/huggingface/hub), HF_HUB_OFFLINE=1 (cache only, no request).
 * Files a preset pins are checked against their sha256; a mismatch is an error that names the file and both hashes.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { downloadFileToCacheDir } from '@huggingface/hub';

export interface HubId { repo: string; subfolder: string; revision: string }

/** Parse `hf:owner/repo[/subfolder][@revision]`; undefined for anything else (a local path). */
export function parseHubId(spec: string): HubId | undefined {
  const m = /^hf:([A-Za-z0-9][\w.-]*\/[\w.-]+)((?:\/[\w.-]+)*)(?:@([\w./-]+))?$/.exec(spec.trim());
  if (!m) return undefined;
  return { repo: m[1], subfolder: m[2].replace(/^\//, ''), revision: m[3] ?? 'main' };
}

export interface HubEnv {
  endpoint: string;
  cacheDir: string;
  offline: boolean;
  /** folders with local copies of hub repos (modelMirrors), searched after the cache, before downloading */
  mirrors?: string[];
}

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return {
    endpoint: (env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    cacheDir: env.HF_HUB_CACHE ?? path.join(home, 'hub'),
    offline: /^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE ?? ''),
    mirrors: modelMirrors(env),
  };
}

/** The cache folder of a model repo (huggingface_hub's `repo_folder_name`). */
export function repoCacheFolder(cacheDir: string, repo: string): string {
  return path.join(cacheDir, `models--${repo.split('/').join('--')}`);
}

/** A cached file for `revision`: refs/<revision> names the snapshot (or the revision is a commit hash). */
function cachedFile(env: HubEnv, id: HubId, file: string): string | undefined {
  const folder = repoCacheFolder(env.cacheDir, id.repo);
  let commit = /^[0-9a-f]{40}$/.test(id.revision) ? id.revision : undefined;
  if (!commit) { try { commit = fs.readFileSync(path.join(folder, 'refs', id.revision), 'utf8').trim(); } catch { return undefined; } }
  const f = path.join(folder, 'snapshots', commit, id.subfolder, file);
  return fs.existsSync(f) ? f : undefined;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function checkPins(files: Record<string, string>, pins: Record<string, string>, where: string): void {
  for (const [name, want] of Object.entries(pins)) {
    const got = sha256File(files[name]);
    if (got !== want.toLowerCase()) throw new Error(`${where}: ${name} has sha256 ${got}, but ${want} is pinned: the file is corrupt or another version; delete ${files[name]} (and its blob) and download again`);
  }
}

/**
 * Local paths of `files` (relative to the id's subfolder), downloading what the cache lacks. `sha256` pins
 * (file → hex) are checked. Offline (HF_HUB_OFFLINE) or with the endpoint unreachable, the cache is used; with nothing
 * cached the error says what to download and where to put it.
 */
export async function hubFiles(spec: string, files: string[], opts: { sha256?: Record<string, string>; env?: HubEnv; fetch?: typeof fetch } = {}): Promise<Record<string, string>> {
  const id = parseHubId(spec);
  if (!id) throw new Error(`${spec}: not a hub id (expected hf:owner/repo[/subfolder][@revision])`);
  const env = opts.env ?? hubEnv();
  const out: Record<string, string> = {};
  const all = files.map((f) => [id.subfolder, f].filter(Boolean).join('/')).join(' ');
  const howTo = `download ${id.repo} ${all} (e.g. \`huggingface-cli download ${id.repo} ${all}${id.revision !== 'main' ? ` --revision ${id.revision}` : ''}\`) into the Hugging Face cache ${env.cacheDir}; or, where you have a copy, name its parent folder in the VS Code setting rlLens.modelFolders or the environment variable RL_LENS_MODELS (found there as <folder>/${id.subfolder || id.repo.split('/')[1]}/<file>; searched now: ${(env.mirrors ?? []).join(', ') || 'none'}); or give the files' folder as model.pretrained instead of ${spec}`;
  for (const file of files) {
    const cached = cachedFile(env, id, file);
    const local = cached ?? mirrorFile(id, file, env.mirrors ?? []);
    if (env.offline) {
      if (!local) throw new Error(`${spec}: HF_HUB_OFFLINE is set and ${file} is not in the cache (${repoCacheFolder(env.cacheDir, id.repo)}): ${howTo}`);
      out[file] = local;
      continue;
    }
    if (!cached && local) { out[file] = local; continue; } // a local copy (modelMirrors): no download

    // the client logs "Downloading …" with console.debug, i.e. on stdout, where `--events stdout` allows only JSON events
    const debug = console.debug;
    console.debug = () => undefined;
    try {
      const p = await downloadFileToCacheDir({ repo: { type: 'model', name: id.repo }, path: [id.subfolder, file].filter(Boolean).join('/'), revision: id.revision, hubUrl: env.endpoint, cacheDir: env.cacheDir, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
      // huggingface_hub's refs/<revision> → commit, so that offline use finds the snapshot (the JS client does not write it)
      const snap = path.relative(path.join(repoCacheFolder(env.cacheDir, id.repo), 'snapshots'), p).split(path.sep)[0];
      if (/^[0-9a-f]{40}$/.test(snap) && !/^[0-9a-f]{40}$/.test(id.revision)) {
        fs.mkdirSync(path.join(repoCacheFolder(env.cacheDir, id.repo), 'refs', path.dirname(id.revision)), { recursive: true });
        fs.writeFileSync(path.join(repoCacheFolder(env.cacheDir, id.repo), 'refs', id.revision), snap);
      }
      out[file] = p;
    } catch (e) {
      if (cached) { out[file] = cached; continue; } // as huggingface_hub: a cached copy when the hub cannot be reached
      throw new Error(`${spec}: could not download ${file} from ${env.endpoint} (${(e as Error).message}) and it is not cached: ${howTo}; set HF_ENDPOINT for a mirror`);
    } finally {
      console.debug = debug;
    }
  }
  if (opts.sha256) checkPins(out, opts.sha256, spec);
  return out;
}

/**
 * Folders holding local copies of hub repos, searched after the Hugging Face cache and before any download:
 * RL_LENS_MODELS (a path list), else `../shared/models` beside the extension's (or checkout's) folder, where this
 * project's machines keep the models they may not download. A copy is found as `<folder>/<owner>/<repo>/<subfolder>`
 * or `<folder>/<subfolder or repo>`; pinned files are still checked against their sha256.
 */
export function modelMirrors(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.RL_LENS_MODELS !== undefined) return env.RL_LENS_MODELS.split(path.delimiter).filter(Boolean);
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return [path.resolve(dir, '..', 'shared', 'models')];
    dir = path.dirname(dir);
  }
  return [];
}

function mirrorFile(id: HubId, file: string, mirrors: string[]): string | undefined {
  const [owner, name] = id.repo.split('/');
  for (const m of mirrors) {
    for (const base of [path.join(m, owner, name, id.subfolder), path.join(m, id.subfolder || name)]) {
      const f = path.join(base, file);
      if (fs.existsSync(f)) return f;
    }
  }
  return undefined;
}

/** stories260K as the default run pins it (karpathy/tinyllamas; the hashes published there). */
export const STORIES260K = {
  id: 'hf:karpathy/tinyllamas/stories260K',
  files: { 'stories260K.bin': 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696', 'tok512.bin': '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312' },
} as const;
