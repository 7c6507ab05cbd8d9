#!/usr/bin/env bash
# The FS-Words test table of RESULTS.md: builds FS-Words if absent, then scores every model
# with the shipped recognizer. Reports land in $OUT (JSON + Markdown row + side-by-side GIFs).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-data/fs-words}
OUT=${OUT:-out/eval}
mkdir -p "$OUT"
[ -f "$DATA/manifest.csv" ] || "$BIN/text2sign" prepare fingerspelling --out "$DATA"
for model in ${MODELS:-reference concat fs-gan-nat fs-latent-flow spoken-to-signed}; do
  name=$(basename "$model")
  "$BIN/text2sign" evaluate --model "$model" --corpus "$DATA" --split test --out "$OUT/$name.json"
done
