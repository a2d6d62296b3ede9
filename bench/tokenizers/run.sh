#!/bin/sh
# Builds the corpus, both candidate modules and the runner, then measures (issue 5).
# usage: bench/tokenizers/run.sh   (from anywhere; writes under /tmp/tokcorpus and /tmp/tokbench)
set -eu
cd "$(dirname "$0")"
: "${CARGO_TARGET_DIR:=/work/target-tok}"; export CARGO_TARGET_DIR
out=/tmp/tokbench; mkdir -p "$out"
nice python3 make_corpus.py /tmp/tokcorpus
for c in tiktoken bpe tables; do
  nice cargo build --release -p tok-guest --target wasm32-wasip1 --features "$c"
  cp "$CARGO_TARGET_DIR/wasm32-wasip1/release/tok_guest.wasm" "$out/$c.wasm"
done
nice cargo build --release -p tok-runner
cd "$out"
nice "$CARGO_TARGET_DIR/release/tok-runner" /tmp/tokcorpus tiktoken.wasm bpe.wasm tables.wasm | tee wasm.md
# Native reference: tiktoken-rs on the whole text, one process per (file, encoding): it panics
# (fancy-regex gives up) on long whitespace runs.
for f in /tmp/tokcorpus/*.txt; do for e in o200k_base cl100k_base; do
  nice "$CARGO_TARGET_DIR/release/tok-reference" "$f" "$e" 2>/dev/null | tail -1 \
    || echo "| $(basename "$f" .txt) | $e | tiktoken-rs panicked | | | | |"
done; done | tee native.md
