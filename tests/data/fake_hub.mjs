// A stand-in for the Hugging Face Hub on 127.0.0.1, serving the API shapes utt uses
// (revision, paginated tree with a Link header, resolve with HEAD metadata, LFS files
// redirected to a CDN on another host name), for the Hub client's end-to-end tests:
//   org/plain   train in two shards (one small git file, one LFS file behind a redirect),
//               validation in one; a README that is not data
//   org/gated   401 unless "Authorization: Bearer secret-token"
//   org/dropped an LFS file whose first download is cut off mid-file (resume test)
//   org/scripted no data files on main (a loading script), Parquet on refs/convert/parquet
//               (written by DuckDB: the Hub's auto-conversion)
//   org/carded  a dataset card (README.md front matter) declaring two configs: "chat"
//               (default; splits train_sft from globbed Parquet, test_sft from JSONL) and
//               "raw" (a ** glob of JSONL); plus files the folder rules would take as train
//   anything else: 404 RepoNotFound
// Prints the port on stdout once listening. The CDN ("localhost" rather than 127.0.0.1)
// refuses requests that carry a token: the token must never leave the endpoint's host.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Usage: node fake_hub.mjs NODE_MODULES_DIR
const modules = path.resolve(process.argv[2]);
const { DuckDBInstance } = await import(path.join(modules, '@duckdb/node-api/lib/index.js'));
const db = await (await DuckDBInstance.create(':memory:')).connect();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-hub-'));
const parquet = async (rows, prefix = 'converted row') => {
  const file = path.join(scratch, `${rows}.parquet`);
  await db.run(`COPY (SELECT '${prefix} ' || i AS text FROM range(${rows}) r(i)) TO '${file}' (FORMAT parquet)`);
  const bytes = fs.readFileSync(file);
  fs.rmSync(file);
  return bytes;
};

const jsonl = (name, n) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ text: `${name} document ${i} ` + 'z'.repeat(i % 50) })).join('\n') + '\n';
const sha1 = (s) => crypto.createHash('sha1').update(s).digest('hex');
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

const card = `---
pretty_name: carded
configs:
- config_name: chat
  default: true
  data_files:
  - split: train_sft
    path: "sft/train-*.parquet"
  - split: test_sft
    path: sft/test.jsonl
- config_name: raw
  data_files: "raw/**/*.jsonl"
---
# carded
A dataset whose card says where its files are.
`;

const repos = {
  'org/carded': {
    commit: 'f'.repeat(40),
    files: {
      'README.md': { content: card, lfs: false },
      'sft/train-a.parquet': { content: await parquet(12, 'sft row a'), lfs: true },
      'sft/train-b.parquet': { content: await parquet(8, 'sft row b'), lfs: true },
      'sft/test.jsonl': { content: jsonl('sft test', 5), lfs: false },
      'raw/2024/a.jsonl': { content: jsonl('raw a', 6), lfs: false },
      'raw/2025/deep/b.jsonl': { content: jsonl('raw b', 4), lfs: false },
      'notes/train.jsonl': { content: jsonl('not in the card', 3), lfs: false },
    },
  },
  'org/scripted': {
    commit: 'd'.repeat(40),
    files: { 'scripted.py': { content: 'print("a loading script")\n', lfs: false } },
    convert: {
      commit: 'e'.repeat(40),
      files: {
        'default/train/0000.parquet': { content: await parquet(25), lfs: true },
        'default/validation/0000.parquet': { content: await parquet(4), lfs: true },
      },
    },
  },
  'org/plain': {
    commit: 'a'.repeat(40),
    files: {
      'README.md': { content: '# plain\n', lfs: false },
      'data/train-00000-of-00002.jsonl': { content: jsonl('train0', 30), lfs: false },
      'data/train-00001-of-00002.jsonl': { content: jsonl('train1', 40), lfs: true },
      'data/validation-00000-of-00001.jsonl': { content: jsonl('val', 7), lfs: false },
    },
  },
  'org/gated': {
    commit: 'b'.repeat(40), token: 'secret-token',
    files: { 'train.jsonl': { content: jsonl('gated', 5), lfs: true } },
  },
  'org/dropped': {
    commit: 'c'.repeat(40),
    files: { 'train.jsonl': { content: jsonl('big', 4000), lfs: true, dropFirst: true } },
  },
};
// A repository's revisions: main, and the Parquet conversion where there is one.
const revisions = (repo) => [repo, ...(repo.convert ? [repo.convert] : [])];
const blobs = {};
for (const repo of Object.values(repos)) {
  for (const revision of revisions(repo)) {
    for (const file of Object.values(revision.files)) {
      file.etag = file.lfs ? sha256(file.content) : sha1(file.content);
      blobs[file.etag] = file;
    }
  }
}
const atCommit = (repo, commit) => revisions(repo).find((r) => r.commit === commit);

let port = 0;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  // The CDN: content by etag, with Range support, never with a token.
  const cdn = url.pathname.match(/^\/cdn\/([0-9a-f]+)$/);
  if (cdn) {
    if (req.headers.authorization) return send(400, { error: 'token sent to the CDN' });
    const file = blobs[cdn[1]];
    if (!file) return send(404, { error: 'no blob' });
    const body = Buffer.from(file.content);
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (file.dropFirst && !file.dropped) {
      file.dropped = true;  // send half, then break the connection
      res.writeHead(200, { 'Content-Length': body.length });
      res.write(body.subarray(0, body.length >> 1));
      setTimeout(() => res.socket.destroy(), 50);
      return;
    }
    if (range) {
      const start = Number(range[1]);
      res.writeHead(206, { 'Content-Length': body.length - start,
                           'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
      return res.end(body.subarray(start));
    }
    res.writeHead(200, { 'Content-Length': body.length });
    return res.end(body);
  }

  const api = url.pathname.match(/^\/api\/datasets\/([^/]+\/[^/]+)\/(revision|tree)\/([^/?]+)$/);
  const resolve = url.pathname.match(/^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
  const id = (api || resolve || [])[1];
  const repo = repos[id];
  if (!repo) return send(404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
  if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
    return send(401, { error: 'Invalid credentials' });
  }
  if (api && api[2] === 'revision') {
    const name = decodeURIComponent(api[3]);
    const revision = name === 'main' ? repo : name === 'refs/convert/parquet' ? repo.convert : undefined;
    if (!revision) return send(404, {}, { 'X-Error-Code': 'RevisionNotFound' });
    return send(200, { id, sha: revision.commit,
                       siblings: Object.keys(revision.files).map((p) => ({ rfilename: p })) });
  }
  if (api && api[2] === 'tree') {
    const revision = atCommit(repo, api[3]);
    if (!revision) return send(404, {}, { 'X-Error-Code': 'RevisionNotFound' });
    // Two entries a page, to exercise the Link header.
    const entries = Object.entries(revision.files).map(([p, f]) => ({
      type: 'file', path: p, size: f.content.length, oid: sha1(f.content),
      ...(f.lfs ? { lfs: { oid: f.etag, size: f.content.length } } : {}) }));
    entries.unshift({ type: 'directory', path: 'data', oid: '0'.repeat(40) });
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const headers = {};
    if (cursor + 2 < entries.length) {
      headers.Link = `<http://127.0.0.1:${port}${url.pathname}?recursive=true&cursor=${cursor + 2}>; rel="next"`;
    }
    return send(200, entries.slice(cursor, cursor + 2), headers);
  }
  if (resolve) {
    const revision = atCommit(repo, resolve[2]);
    const file = revision?.files[decodeURIComponent(resolve[3])];
    if (!file) return send(404, {}, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': repo.commit });
    const common = { 'X-Repo-Commit': revision.commit };
    if (file.lfs) {
      res.writeHead(302, { ...common, Location: `http://localhost:${port}/cdn/${file.etag}`,
                           'X-Linked-Etag': `"${file.etag}"`, 'X-Linked-Size': String(file.content.length) });
      return res.end();
    }
    res.writeHead(200, { ...common, ETag: `"${file.etag}"`, 'Content-Length': file.content.length });
    return res.end(req.method === 'HEAD' ? undefined : file.content);
  }
  send(404, { error: 'not found' });
});
process.on('SIGTERM', () => {
  fs.rmSync(scratch, { recursive: true, force: true });
  process.exit(0);
});
server.listen(0, '127.0.0.1', () => {
  port = server.address().port;
  console.log(port);
});
