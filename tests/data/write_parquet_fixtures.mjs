// Writes the Parquet files the reader tests read back, with DuckDB (an independent writer):
// every codec (uncompressed, snappy, gzip, zstd) x format version (V1, V2) x dictionary
// (on, off), a column without NULLs declared NOT NULL, and several row groups per file.
// Also writes expected.json (the varied table, in the -plain files), expected-dict.json (few
// distinct values, in the -dict files) and expected-required.json: the text column as DuckDB
// holds it (strings and nulls); and
// layout.json: the page layout DuckDB reports per file.
//
// Usage: node write_parquet_fixtures.mjs NODE_MODULES_DIR OUT_DIR
import path from 'node:path';
import fs from 'node:fs';

const [modules, out] = process.argv.slice(2).map((p) => path.resolve(p));
const { DuckDBInstance } = await import(path.join(modules, '@duckdb/node-api/lib/index.js'));
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run('SET threads = 1');  // one writer: the same files every run

// 5000 rows (DuckDB rounds row groups up to 2048 rows: 3 per file): NULLs, empty strings, repeats (so dictionaries pay), non-ASCII text, and a few
// long values that span pages.
await c.run(`CREATE TABLE docs AS SELECT i AS id,
  CASE WHEN i % 11 = 5 THEN NULL
       WHEN i % 13 = 7 THEN ''
       WHEN i % 3 = 0 THEN 'repeated line ' || (i % 10)
       WHEN i % 97 = 1 THEN repeat('long é ✓ 🙂 ', 800 + i)
       ELSE 'document ' || i || ' — naïve 日本語 ' || repeat('x', i % 37) END AS text
  FROM range(5000) r(i) ORDER BY i`);
// Few distinct values: DuckDB dictionary-encodes a column only when that pays.
await c.run(`CREATE TABLE repeated_docs AS SELECT i AS id,
  CASE WHEN i % 11 = 5 THEN NULL WHEN i % 17 = 3 THEN ''
       ELSE 'line ' || (i % 40) || ' — é 🙂' END AS text
  FROM range(5000) r(i) ORDER BY i`);
await c.run(`CREATE TABLE required_docs (id BIGINT, text VARCHAR NOT NULL)`);
await c.run(`INSERT INTO required_docs SELECT id, coalesce(text, 'was null') FROM docs`);

const files = [];
for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd']) {
  for (const version of ['V1', 'V2']) {
    for (const dictionary of ['dict', 'plain']) {
      const name = `${codec}-${version}-${dictionary}.parquet`;
      // A dictionary size limit of 1 byte makes DuckDB give up on the dictionary at once.
      const dictOption = dictionary === 'plain' ? ', DICTIONARY_SIZE_LIMIT 1' : '';
      const table = dictionary === 'dict' ? 'repeated_docs' : 'docs';
      await c.run(`COPY ${table} TO '${path.join(out, name)}' (FORMAT parquet, COMPRESSION ${codec},
                   PARQUET_VERSION ${version}, ROW_GROUP_SIZE 1000${dictOption})`);
      files.push(name);
    }
  }
}
await c.run(`COPY required_docs TO '${path.join(out, 'required-zstd.parquet')}'
             (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 700)`);
files.push('required-zstd.parquet');

// Nested columns before the text column: the reader must count their leaves to find it.
await c.run(`COPY (SELECT [id, id + 1] AS tags, {'a': id, 'b': [text, 'x']} AS meta, text, id
                   FROM docs ORDER BY id)
             TO '${path.join(out, 'nested-snappy.parquet')}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
files.push('nested-snappy.parquet');

const rows = (await c.runAndReadAll('SELECT text FROM docs ORDER BY id')).getRowObjectsJson();
fs.writeFileSync(path.join(out, 'expected.json'), JSON.stringify(rows.map((r) => r.text)));
const repeated =
    (await c.runAndReadAll('SELECT text FROM repeated_docs ORDER BY id')).getRowObjectsJson();
fs.writeFileSync(path.join(out, 'expected-dict.json'), JSON.stringify(repeated.map((r) => r.text)));
const required =
    (await c.runAndReadAll('SELECT text FROM required_docs ORDER BY id')).getRowObjectsJson();
fs.writeFileSync(path.join(out, 'expected-required.json'),
                 JSON.stringify(required.map((r) => r.text)));

// The same texts through a second writer (Rust's parquet crate, compiled to wasm), which
// writes data pages v2 (DuckDB writes v1 pages in both its format versions).
const pw = await import(path.join(modules, 'parquet-wasm/node/parquet_wasm.js'));
const arrow = await import(path.join(modules, 'apache-arrow/Arrow.node.mjs'));
const codecs = { uncompressed: pw.Compression.UNCOMPRESSED, snappy: pw.Compression.SNAPPY,
                 gzip: pw.Compression.GZIP, zstd: pw.Compression.ZSTD };
for (const [codec, id] of Object.entries(codecs)) {
  for (const dictionary of ['dict', 'plain']) {
    const texts = (dictionary === 'dict' ? repeated : rows).map((r) => r.text);
    const table = arrow.tableFromArrays({ text: arrow.vectorFromArray(texts, new arrow.Utf8()) });
    const properties = new pw.WriterPropertiesBuilder()
        .setCompression(id).setWriterVersion(pw.WriterVersion.V2)
        .setDictionaryEnabled(dictionary === 'dict')
        .setMaxRowGroupSize(2000).setDataPageSizeLimit(8192).build();
    const bytes = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), properties);
    const name = `wasm-${codec}-${dictionary}.parquet`;
    fs.writeFileSync(path.join(out, name), bytes);
    files.push(name);
  }
}

const layout = {};
for (const name of files) {
  const meta = await c.runAndReadAll(`SELECT DISTINCT encodings, compression FROM
      parquet_metadata('${path.join(out, name)}') WHERE path_in_schema = 'text'`);
  layout[name] = meta.getRowObjectsJson();
}
fs.writeFileSync(path.join(out, 'layout.json'), JSON.stringify(layout, null, 1));
