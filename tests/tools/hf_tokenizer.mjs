// Drives Hugging Face's tokenizers library (npm `tokenizers`, the native Rust build) for the
// cross-checks in tests/unit/tokenizer and for bench/tokenizer_vs_hf.
//
//   node hf_tokenizer.mjs encode TOKENIZER_JSON INPUT     ids of each document, one line each
//   node hf_tokenizer.mjs encode-with-template TOKENIZER_JSON INPUT
//                                                         the same with the post-processor's tokens
//   node hf_tokenizer.mjs train OUTPUT_JSON FILE...       train with HF's defaults (vocab 30000)
//   node hf_tokenizer.mjs legacy-merges IN_JSON OUT_JSON  rewrite merges as "a b" strings
//   node hf_tokenizer.mjs bench TOKENIZER_JSON INPUT      encoding seconds for every document
//
// INPUT is .jsonl (field "text") or .txt (one document per line).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), 'node_modules', 'x.js'));
let hf;
try {
  hf = require('tokenizers');
} catch (error) {
  console.error('hf_tokenizer.mjs: the npm package `tokenizers` is missing from tests/tools/node_modules: ' +
                'run scripts/setup --tests');
  process.exit(3);
}

function documents(path) {
  const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
  if (path.endsWith('.jsonl')) return lines.map((l) => JSON.parse(l).text).filter((t) => t.length > 0);
  return lines;
}

const [command, ...args] = process.argv.slice(2);
if (command === 'encode' || command === 'encode-with-template') {
  const tokenizer = hf.Tokenizer.fromFile(args[0]);
  const out = [];
  for (const text of documents(args[1])) {
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: command === 'encode-with-template' });
    out.push(encoding.getIds().join(' '));
  }
  process.stdout.write(out.join('\n') + '\n');
} else if (command === 'train') {
  const tokenizer = new hf.Tokenizer(hf.BPE.empty());
  tokenizer.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
  const start = process.hrtime.bigint();
  tokenizer.train(args.slice(1));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  tokenizer.save(args[0]);
  console.log(`train_seconds: ${seconds.toFixed(3)}`);
  console.log(`vocab_size: ${tokenizer.getVocabSize(true)}`);
} else if (command === 'legacy-merges') {
  const json = JSON.parse(readFileSync(args[0], 'utf8'));
  json.model.merges = json.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  writeFileSync(args[1], JSON.stringify(json));
} else if (command === 'bench') {
  const tokenizer = hf.Tokenizer.fromFile(args[0]);
  const texts = documents(args[1]);
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const start = process.hrtime.bigint();
  const encodings = await tokenizer.encodeBatch(texts, { addSpecialTokens: false });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const tokens = encodings.reduce((n, e) => n + e.getLength(), 0);
  console.log(`bytes: ${bytes}`);
  console.log(`tokens: ${tokens}`);
  console.log(`bytes_per_token: ${(bytes / tokens).toFixed(4)}`);
  console.log(`encode_seconds: ${seconds.toFixed(4)}`);
  console.log(`encode_mb_per_s: ${(bytes / 1e6 / seconds).toFixed(2)}`);
} else {
  console.error(`hf_tokenizer.mjs: unknown command ${command}`);
  process.exit(2);
}
