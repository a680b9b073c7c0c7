#!/usr/bin/env bash
# A short fuzz run of the targets (CTest's fuzz_smoke in a -DUTT_FUZZ=ON build): seeds from
# the DuckDB/parquet-wasm fixtures, a few JSON lines and a TensorBoard record, SECONDS_EACH seconds
# per target.
# Usage: run_fuzz.sh BUILD_DIR SOURCE_DIR [SECONDS_EACH]
set -euo pipefail
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd) seconds=${3:-10}
work=$(mktemp -d)
trap 'rm -rf "$work" /dev/shm/utt-fuzz-*' EXIT
mkdir -p "$work/parquet" "$work/jsonl"
modules="$source/tests/tools/node_modules"
if [[ ! -d "$modules/@duckdb/node-api" ]]; then
  echo "missing $modules: run scripts/setup --tests (or npm ci in tests/tools)" >&2
  exit 1
fi
mkdir -p "$work/fixtures"
node "$source/tests/data/write_parquet_fixtures.mjs" "$modules" "$work/fixtures"
cp "$work"/fixtures/*-dict.parquet "$work/parquet/"
printf '{"text": "hello"}\n{"text": null, "id": 2}\n' > "$work/jsonl/a"
printf '[{"text": "x\\u00e9"}, {"text": ""}]' > "$work/jsonl/b"
printf '{"id": 1, "text": "caf\xe9"}\n\n{"text": 3}\n' > "$work/jsonl/c"
"$build/fuzz/parquet_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 "$work/parquet"
"$build/fuzz/jsonl_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 "$work/jsonl"
# Seeds for the event reader: a record as TensorBoard's test vector frames it (file_version).
mkdir -p "$work/tensorboard"
printf '\x18\0\0\0\0\0\0\0\xa3\x7f\x4b\x22\x09\0\0\0\x40\xfc\x54\xd9\x41\x1a\x0dbrain.Event:2\xec\xed\x8f\x9d' \
  > "$work/tensorboard/version"
"$build/fuzz/tensorboard_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 "$work/tensorboard"
