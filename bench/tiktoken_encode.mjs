// Encoding speed of tiktoken (npm `tiktoken`, OpenAI's Rust BPE compiled to WebAssembly) with
// GPT-2's vocabulary, one thread: the anchor bench/tokenizer_vs_hf compares utt against.
//   node bench/tiktoken_encode.mjs INPUT.txt     (one document per line)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'tests', 'tools', 'node_modules', 'x.js'));
const { get_encoding } = require('tiktoken');

const texts = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.length > 0);
const encoding = get_encoding('gpt2');
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
const start = process.hrtime.bigint();
let tokens = 0;
for (const text of texts) tokens += encoding.encode_ordinary(text).length;
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`bytes: ${bytes}`);
console.log(`tokens: ${tokens}`);
console.log(`encode_seconds: ${seconds.toFixed(4)}`);
console.log(`encode_mb_per_s: ${(bytes / 1e6 / seconds).toFixed(2)}`);
