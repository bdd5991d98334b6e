// A stand-in for the Hugging Face Hub on 127.0.0.1 (random port), speaking the endpoints the
// client uses, with the Hub's headers and refusals:
//   GET  /api/models/{org}/{name}/revision/{rev}    model info (sha), what @huggingface/hub's modelInfo asks
//   GET  /api/models/{org}/{name}/tree/{rev}        file listing (size, oid, lfs.oid), listFiles
//   HEAD|GET /{org}/{name}/resolve/{rev}/{file}     the bytes: Range -> 206, ETag, X-Repo-Commit,
//                                                   X-Linked-Etag/-Size; LFS files may redirect to /cdn/
// Auth as on the Hub: a private repo answers 401 RepoNotFound to everyone but the token holder; a
// gated repo lists freely but its files need the token (401 without one, 403 with a token of an
// account that was not granted access); an unknown token is 401 everywhere.
// Uploads, as @huggingface/hub's createRepo and commit speak them (src/lib/create-repo.ts, commit.ts):
//   POST /api/repos/create                         {name, organization, visibility}: 409 when it exists
//   POST /api/models/{org}/{name}/preupload/{rev}  which files go through LFS (uploadMode lfs|regular)
//   POST /{org}/{name}.git/info/lfs/objects/batch  Git LFS batch API: 'basic' transfer, one PUT href per object not yet stored
//   PUT  /lfs-objects/{sha256}                     the storage the href points to (no auth, like a presigned URL); checks the sha256
//   POST /api/models/{org}/{name}/commit/{rev}     NDJSON: header, file (base64), lfsFile (oid), deletedFile; a new commit sha
// Only `token` may write (a read-only token gets 403, none 401).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';

export interface HubRepo {
  id: string;
  files: Record<string, Buffer>;
  gated?: boolean;
  private?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  range?: string;
}

export interface HubServer {
  url: string;
  /** The repos as they are now (created and committed to through the upload endpoints too). */
  repos: Map<string, HubRepo>;
  /** Can read every repo, gated ones included. */
  token: string;
  /** A valid token whose account was not granted access to gated repos. */
  tokenWithoutAccess: string;
  requests: RecordedRequest[];
  commitOf(repo: string): string;
  etagOf(repo: string, file: string): string;
  /** The next transfer of the file sends `bytes` bytes, then the connection is cut. */
  dropNextTransfer(repo: string, file: string, bytes: number): void;
  /** From now on the file's bytes are served with one byte flipped (listing unchanged). */
  corrupt(repo: string, file: string): void;
  /** The next LFS object upload (PUT) is cut after its headers, as a dropped connection. */
  dropNextUpload(): void;
  close(): Promise<void>;
}

const isLfs = (file: string): boolean => /\.(safetensors|bin|gguf|pt)$/.test(file);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const etag = (file: string, b: Buffer): string => (isLfs(file) ? sha256(b) : gitOid(b));

const DEMO_MODEL = join(import.meta.dirname, '..', '..', 'assets', 'demo', 'model');
const QWEN2_SHARDED = join(import.meta.dirname, '..', 'fixtures', 'models', 'qwen2');

function readDir(dir: string, keep: (name: string) => boolean = () => true): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const name of readdirSync(dir).sort()) if (keep(name)) files[name] = readFileSync(join(dir, name));
  return files;
}

/** The bundled demo model (loads and generates), plus files a download must leave alone. */
export function demoRepoFiles(): Record<string, Buffer> {
  return {
    ...readDir(DEMO_MODEL),
    'README.md': Buffer.from('# tiny\n'),
    'pytorch_model.bin': Buffer.from('pickle bytes that must not be fetched'),
    'model.gguf': Buffer.from('gguf bytes that must not be fetched'),
    'onnx/model.onnx': Buffer.from('onnx'),
    'additional_chat_templates/tool_use.jinja': Buffer.from('{{ messages }}'),
  };
}

/** A checkpoint in three shards with an index (test/fixtures/models/qwen2) and the demo tokenizer. */
export function shardedRepoFiles(): Record<string, Buffer> {
  return {
    ...readDir(QWEN2_SHARDED, (n) => n.startsWith('model') || n.endsWith('config.json')),
    'tokenizer.json': readFileSync(join(DEMO_MODEL, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(join(DEMO_MODEL, 'tokenizer_config.json')),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return start < size && start <= end ? { start, end } : 'invalid';
}

/**
 * `redirectLfs`: large files answer 302 to /cdn/<repo>/<sha256>, on this server (true) or on the
 * server at the given base URL (another origin, as the Hub's CDN is).
 */
export async function startHubServer(repos: HubRepo[], options: { redirectLfs?: boolean | string } = {}): Promise<HubServer> {
  const token = 'hf_test_token_with_access';
  const tokenWithoutAccess = 'hf_test_token_without_access';
  const byId = new Map(repos.map((r) => [r.id, r]));
  const commits = new Map<string, string>();
  const commitOf = (repo: string): string => commits.get(repo) ?? createHash('sha1').update(`commit of ${repo}`).digest('hex');
  const lfsObjects = new Map<string, Buffer>();
  let dropUpload = false;
  const requests: RecordedRequest[] = [];
  const drops = new Map<string, number>();
  const corrupted = new Set<string>();

  const json = (res: ServerResponse, status: number, body: unknown, errorCode?: string): void => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...(errorCode ? { 'X-Error-Code': errorCode } : {}) });
    res.end(JSON.stringify(body));
  };

  // Sends a file's bytes (or the asked range of them), cutting the connection when told to.
  const sendBytes = (req: IncomingMessage, res: ServerResponse, repo: HubRepo, file: string, headers: Record<string, string>): void => {
    let body = repo.files[file] as Buffer;
    if (corrupted.has(`${repo.id}/${file}`)) {
      body = Buffer.from(body);
      body.writeUInt8(body.readUInt8(body.length - 1) ^ 0xff, body.length - 1);
    }
    const range = parseRange(req.headers.range, body.length);
    if (range === 'invalid') {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
      res.end();
      return;
    }
    const part = range ? body.subarray(range.start, range.end + 1) : body;
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(part.length),
      ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${body.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const key = `${repo.id}/${file}`;
    const drop = drops.get(key);
    if (drop !== undefined && drop < part.length) {
      drops.delete(key);
      res.write(part.subarray(0, drop), () => res.socket?.destroy());
      return;
    }
    res.end(part);
  };

  const base = (): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The write endpoints; `sent` is the bearer token, if any.
  const write = (req: IncomingMessage, res: ServerResponse, url: URL, sent: string | undefined, body: Buffer): void => {
    const lfsPut = /^\/lfs-objects\/([0-9a-f]{64})$/.exec(url.pathname);
    if (req.method === 'PUT' && lfsPut) {
      if (dropUpload) {
        dropUpload = false;
        res.socket?.destroy();
        return;
      }
      if (sha256(body) !== lfsPut[1]) {
        json(res, 400, { error: `the uploaded bytes hash to ${sha256(body)}, not ${lfsPut[1]}` });
        return;
      }
      lfsObjects.set(lfsPut[1] as string, body);
      res.writeHead(200, { ETag: `"${lfsPut[1]}"` });
      res.end();
      return;
    }
    if (sent === undefined) {
      json(res, 401, { error: 'Invalid username or password.' });
      return;
    }
    if (sent !== token) {
      json(res, 403, { error: 'You have read access but not the required permissions for this operation.' });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/repos/create') {
      const p = JSON.parse(body.toString('utf8')) as { name?: string; organization?: string; type?: string; visibility?: string; private?: boolean };
      const id = `${p.organization ?? 'test-user'}/${p.name ?? ''}`;
      if (byId.has(id)) {
        json(res, 409, { error: 'You already created this model repo', url: `${base()}/${id}` });
        return;
      }
      const isPrivate = p.visibility === 'private' || p.private === true;
      byId.set(id, { id, files: { '.gitattributes': Buffer.from('*.safetensors filter=lfs diff=lfs merge=lfs -text\n') }, ...(isPrivate ? { private: true } : {}) });
      json(res, 200, { url: `${base()}/${id}`, name: id, id: createHash('sha1').update(id).digest('hex').slice(0, 24) });
      return;
    }
    const m = /^\/api\/models\/([^/]+\/[^/]+)\/(preupload|commit)\/([^/]+)$/.exec(url.pathname);
    const batch = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(url.pathname);
    const repo = byId.get(decodeURIComponent((m?.[1] ?? batch?.[1] ?? '') as string));
    if (!m && !batch) {
      json(res, 404, { error: 'not a Hub endpoint' });
      return;
    }
    if (!repo) {
      json(res, 404, { error: 'Repository Not Found' }, 'RepoNotFound');
      return;
    }
    if (batch) {
      const p = JSON.parse(body.toString('utf8')) as { operation: string; objects: { oid: string; size: number }[] };
      res.writeHead(200, { 'Content-Type': 'application/vnd.git-lfs+json' });
      res.end(
        JSON.stringify({
          transfer: 'basic',
          objects: p.objects.map(({ oid, size }) => ({
            oid,
            size,
            authenticated: true,
            ...(lfsObjects.has(oid) ? {} : { actions: { upload: { href: `${base()}/lfs-objects/${oid}`, header: {} } } }),
          })),
        }),
      );
      return;
    }
    if (decodeURIComponent(m?.[3] as string) !== 'main') {
      json(res, 404, { error: `Invalid rev id: ${m?.[3]}` }, 'RevisionNotFound');
      return;
    }
    if (m?.[2] === 'preupload') {
      const p = JSON.parse(body.toString('utf8')) as { files: { path: string; size: number }[] };
      json(res, 200, { files: p.files.map((f) => ({ path: f.path, uploadMode: isLfs(f.path) || f.size > 10 * 2 ** 20 ? 'lfs' : 'regular', shouldIgnore: false })) });
      return;
    }
    // commit: NDJSON, the header first.
    const lines = body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
    if (lines[0]?.key !== 'header') {
      json(res, 400, { error: 'the first line of a commit must be its header' });
      return;
    }
    const files = { ...repo.files };
    for (const { key, value } of lines.slice(1)) {
      const path = value.path as string;
      if (key === 'file') {
        files[path] = Buffer.from(value.content as string, value.encoding === 'base64' ? 'base64' : 'utf8');
      } else if (key === 'lfsFile') {
        const stored = lfsObjects.get(value.oid as string);
        if (!stored || stored.length !== value.size) {
          json(res, 422, { error: `LFS pointer pointed to a file that does not exist: ${path} (${value.oid as string})` });
          return;
        }
        files[path] = stored;
      } else if (key === 'deletedFile') {
        delete files[path];
      } else {
        json(res, 400, { error: `unknown commit line '${key}'` });
        return;
      }
    }
    repo.files = files;
    const oid = createHash('sha1').update(commitOf(repo.id)).update(body).digest('hex');
    commits.set(repo.id, oid);
    json(res, 200, { success: true, commitOid: oid, commitUrl: `${base()}/${repo.id}/commit/${oid}`, hookOutput: '' });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = req.headers.authorization;
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      ...(auth !== undefined ? { authorization: auth } : {}),
      ...(req.headers.range !== undefined ? { range: req.headers.range } : {}),
    });
    const sent = auth?.replace(/^Bearer /, '');
    if (sent !== undefined && sent !== token && sent !== tokenWithoutAccess) {
      json(res, 401, { error: 'Invalid credentials in Authorization header' });
      return;
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      readBody(req).then(
        (body) => write(req, res, url, sent, body),
        () => res.destroy(),
      );
      return;
    }

    // The CDN a large file redirects to: no auth, addressed by content hash.
    const cdn = /^\/cdn\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) {
      const repo = byId.get(cdn[1] as string);
      const file = repo && Object.keys(repo.files).find((f) => isLfs(f) && sha256(repo.files[f] as Buffer) === cdn[2]);
      if (!repo || !file) {
        json(res, 404, { error: 'no such object' });
        return;
      }
      sendBytes(req, res, repo, file, { ETag: `"${cdn[2]}"` });
      return;
    }

    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoId = decodeURIComponent((api?.[1] ?? resolve?.[1] ?? '') as string);
    const revision = decodeURIComponent((api?.[3] ?? resolve?.[2] ?? '') as string);
    if (!api && !resolve) {
      json(res, 404, { error: 'not a Hub endpoint' });
      return;
    }
    const repo = byId.get(repoId);
    if (!repo || (repo.private && sent !== token)) {
      json(res, repo ? 401 : 404, { error: 'Repository Not Found' }, 'RepoNotFound');
      return;
    }
    const commit = commitOf(repo.id);
    if (revision !== 'main' && revision !== commit) {
      json(res, 404, { error: `Invalid rev id: ${revision}` }, 'RevisionNotFound');
      return;
    }

    if (api?.[2] === 'revision') {
      json(res, 200, {
        _id: `id-${repo.id}`,
        id: repo.id,
        sha: commit,
        private: repo.private ?? false,
        gated: repo.gated ? 'manual' : false,
        downloads: 0,
        likes: 0,
        lastModified: '2025-01-01T00:00:00.000Z',
        pipeline_tag: 'text-generation',
        siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })),
      });
      return;
    }
    if (api?.[2] === 'tree') {
      const dirs = new Set(Object.keys(repo.files).filter((f) => f.includes('/')).map((f) => f.slice(0, f.lastIndexOf('/'))));
      const recursive = url.searchParams.get('recursive') === 'true';
      const entries = [
        ...[...dirs].map((path) => ({ type: 'directory', oid: gitOid(Buffer.from(path)), size: 0, path })),
        ...Object.entries(repo.files)
          .filter(([path]) => recursive || !path.includes('/'))
          .map(([path, b]) =>
            isLfs(path)
              ? { type: 'file', oid: gitOid(Buffer.from(`lfs pointer ${sha256(b)}`)), size: b.length, path, lfs: { oid: sha256(b), size: b.length, pointerSize: 134 } }
              : { type: 'file', oid: gitOid(b), size: b.length, path },
          ),
      ];
      json(res, 200, entries);
      return;
    }

    const file = (resolve?.[3] as string).split('/').map(decodeURIComponent).join('/');
    if (repo.gated && sent !== token) {
      const status = sent === undefined ? 401 : 403;
      json(res, status, { error: `Access to model ${repo.id} is restricted and you are not in the authorized list.` }, 'GatedRepo');
      return;
    }
    const body = repo.files[file];
    if (body === undefined) {
      json(res, 404, { error: 'Entry not found' }, 'EntryNotFound');
      return;
    }
    const headers: Record<string, string> = { 'X-Repo-Commit': commit, ETag: `"${etag(file, body)}"` };
    if (isLfs(file)) {
      headers['X-Linked-Etag'] = `"${sha256(body)}"`;
      headers['X-Linked-Size'] = String(body.length);
      if (options.redirectLfs) {
        const base = typeof options.redirectLfs === 'string' ? options.redirectLfs : '';
        res.writeHead(302, { ...headers, Location: `${base}/cdn/${repo.id}/${sha256(body)}` });
        res.end();
        return;
      }
    }
    sendBytes(req, res, repo, file, headers);
  });

  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    tokenWithoutAccess,
    requests,
    commitOf,
    etagOf: (repo, file) => etag(file, byId.get(repo)?.files[file] as Buffer),
    dropNextTransfer: (repo, file, bytes) => void drops.set(`${repo}/${file}`, bytes),
    corrupt: (repo, file) => void corrupted.add(`${repo}/${file}`),
    dropNextUpload: () => {
      dropUpload = true;
    },
    repos: byId,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/**
 * Writes a snapshot into a cache folder the way huggingface_hub (Python) does, independently of
 * src/hub: blobs named by etag, relative symlinks from snapshots/<commit>/, refs/<ref>.
 */
export function writePythonCache(
  cacheDir: string,
  repo: string,
  files: Record<string, Buffer>,
  options: { commit?: string; ref?: string | null } = {},
): { repoDir: string; commit: string; snapshot: string } {
  const commit = options.commit ?? createHash('sha1').update(`python commit of ${repo}`).digest('hex');
  const repoDir = join(cacheDir, `models--${repo.replace('/', '--')}`);
  const snapshot = join(repoDir, 'snapshots', commit);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  for (const [file, bytes] of Object.entries(files)) {
    const blob = join(repoDir, 'blobs', etag(file, bytes));
    writeFileSync(blob, bytes);
    const pointer = join(snapshot, file);
    mkdirSync(dirname(pointer), { recursive: true });
    symlinkSync(relative(dirname(pointer), blob), pointer);
  }
  if (options.ref !== null) {
    const ref = join(repoDir, 'refs', options.ref ?? 'main');
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, commit);
  }
  return { repoDir, commit, snapshot };
}
