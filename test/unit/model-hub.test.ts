// Hub ids (hf:owner/repo/subfolder) through @huggingface/hub into the standard Hugging Face cache, against a loopback
// HF_ENDPOINT that serves ../shared/models in the hub's URL layout (no hub is reachable here): download, sha256 pins,
// HF_HUB_OFFLINE from the cache, clear messages when nothing is cached or a hash does not match.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STORIES260K, hubEnv, hubFiles, parseHubId, repoCacheFolder } from '../../src/trainer/model/hub';
import { COMMIT, hubServer } from '../fixtures/hubServer';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const skip = fs.existsSync(path.join(MODELS, 'stories260K', 'tok512.bin')) ? false : `${MODELS} not present`;

const tmpHome = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-hfhome-'));
const closers: (() => Promise<void>)[] = [];
after(async () => { for (const c of closers) await c(); });

test('hub ids parse as huggingface_hub names them', () => {
  assert.deepEqual(parseHubId('hf:karpathy/tinyllamas/stories260K'), { repo: 'karpathy/tinyllamas', subfolder: 'stories260K', revision: 'main' });
  assert.deepEqual(parseHubId('hf:Qwen/Qwen2.5-0.5B@v1.0'), { repo: 'Qwen/Qwen2.5-0.5B', subfolder: '', revision: 'v1.0' });
  assert.equal(parseHubId('./models/stories260K'), undefined);
  const e = hubEnv({ RL_LENS_MODELS: '', HF_HOME: '/h', HF_ENDPOINT: 'http://127.0.0.1:9/', HF_HUB_OFFLINE: '1' });
  assert.deepEqual(e, { endpoint: 'http://127.0.0.1:9', cacheDir: '/h/hub', offline: true, mirrors: [] });
  assert.equal(hubEnv({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }).cacheDir, '/c');
});

test('download from a loopback HF_ENDPOINT into HF_HOME/hub, sha256 pins checked; offline afterwards from the cache', { skip }, async () => {
  const srv = await hubServer();
  closers.push(srv.close);
  const home = tmpHome();
  const env = hubEnv({ RL_LENS_MODELS: '', HF_HOME: home, HF_ENDPOINT: srv.url });
  const files = await hubFiles(STORIES260K.id, Object.keys(STORIES260K.files), { env, sha256: { ...STORIES260K.files } });
  const snap = path.join(repoCacheFolder(path.join(home, 'hub'), 'karpathy/tinyllamas'), 'snapshots', COMMIT, 'stories260K');
  assert.equal(files['stories260K.bin'], path.join(snap, 'stories260K.bin'));
  assert.ok(fs.lstatSync(files['tok512.bin']).isSymbolicLink() || fs.statSync(files['tok512.bin']).isFile());
  assert.deepEqual(fs.readFileSync(files['tok512.bin']), fs.readFileSync(path.join(MODELS, 'stories260K', 'tok512.bin')));
  assert.equal(fs.readFileSync(path.join(repoCacheFolder(path.join(home, 'hub'), 'karpathy/tinyllamas'), 'refs', 'main'), 'utf8'), COMMIT);
  assert.ok(srv.requests.some((r) => r.startsWith('POST /api/models/karpathy/tinyllamas/paths-info/main')), srv.requests.join('\n'));
  assert.ok(srv.requests.some((r) => r === 'GET /karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin'), srv.requests.join('\n'));
  // offline: no request at all, the same paths from the cache
  const n = srv.requests.length;
  const off = await hubFiles(STORIES260K.id, ['stories260K.bin'], { env: { ...env, offline: true }, sha256: { 'stories260K.bin': STORIES260K.files['stories260K.bin'] } });
  assert.equal(off['stories260K.bin'], files['stories260K.bin']);
  assert.equal(srv.requests.length, n, 'HF_HUB_OFFLINE makes no request');
  // the endpoint unreachable: the cached copy, as huggingface_hub does
  const down = await hubFiles(STORIES260K.id, ['tok512.bin'], { env: { ...env, endpoint: 'http://127.0.0.1:9' } });
  assert.equal(down['tok512.bin'], files['tok512.bin']);
});

test('clear messages: offline with an empty cache, unreachable hub, a hash that does not match, a missing file', { skip }, async () => {
  const srv = await hubServer();
  closers.push(srv.close);
  const home = tmpHome();
  await assert.rejects(hubFiles(STORIES260K.id, ['tok512.bin'], { env: hubEnv({ RL_LENS_MODELS: '', HF_HOME: home, HF_HUB_OFFLINE: '1' }) }),
    /HF_HUB_OFFLINE is set and tok512\.bin is not in the cache .*huggingface-cli download karpathy\/tinyllamas stories260K\/tok512\.bin/);
  await assert.rejects(hubFiles(STORIES260K.id, ['tok512.bin'], { env: hubEnv({ RL_LENS_MODELS: '', HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9' }) }),
    /could not download tok512\.bin from http:\/\/127\.0\.0\.1:9 .* not cached/);
  await assert.rejects(hubFiles(STORIES260K.id, ['tok512.bin'], { env: hubEnv({ RL_LENS_MODELS: '', HF_HOME: home, HF_ENDPOINT: srv.url }), sha256: { 'tok512.bin': '0'.repeat(64) } }),
    new RegExp(`tok512\\.bin has sha256 ${STORIES260K.files['tok512.bin']}, but 0{64} is pinned`));
  await assert.rejects(hubFiles(STORIES260K.id, ['nope.bin'], { env: hubEnv({ RL_LENS_MODELS: '', HF_HOME: home, HF_ENDPOINT: srv.url }) }), /could not download nope\.bin/);
});

test('local copies of hub repos (RL_LENS_MODELS): found as <dir>/<subfolder> or <dir>/<owner>/<repo>/<subfolder>, after the cache, pins still checked', { skip }, async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-mirror-'));
  const models = MODELS;
  const S260 = path.join(MODELS, 'stories260K');
  const env = hubEnv({ RL_LENS_MODELS: models, HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9' });
  assert.deepEqual(env.mirrors, [models]);
  const got = await hubFiles(STORIES260K.id, ['tok512.bin'], { env, sha256: { 'tok512.bin': STORIES260K.files['tok512.bin'] } });
  assert.equal(got['tok512.bin'], path.join(S260, 'tok512.bin'), 'no download: the local copy itself');
  // the owner/repo/subfolder layout
  const nested = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-mirror2-'));
  fs.mkdirSync(path.join(nested, 'karpathy', 'tinyllamas', 'stories260K'), { recursive: true });
  fs.symlinkSync(path.join(S260, 'tok512.bin'), path.join(nested, 'karpathy', 'tinyllamas', 'stories260K', 'tok512.bin'));
  const got2 = await hubFiles(STORIES260K.id, ['tok512.bin'], { env: hubEnv({ RL_LENS_MODELS: nested, HF_HOME: home, HF_HUB_OFFLINE: '1' }) });
  assert.equal(got2['tok512.bin'], path.join(nested, 'karpathy', 'tinyllamas', 'stories260K', 'tok512.bin'));
  // a local copy that is another version fails its pin, naming both hashes
  await assert.rejects(hubFiles(STORIES260K.id, ['tok512.bin'], { env, sha256: { 'tok512.bin': 'f'.repeat(64) } }), /tok512\.bin has sha256 037cb335.*but f{64} is pinned/);
});
