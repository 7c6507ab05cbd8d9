#!/usr/bin/env bash
# Warm latency / throughput / memory of every model on one CPU thread, one JSON line each.
# Usage: benchmarks/bench_models.sh [extra `text2sign bench` flags, e.g. --device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
for model in ${MODELS:-concat fs-gan-nat fs-latent-flow spoken-to-signed}; do
  repeats=20
  # the peer takes seconds per phrase; fewer repeats give the same precision
  [ "$model" = spoken-to-signed ] && repeats=3
  "$BIN/text2sign" bench --model "$model" --threads 1 --repeats "$repeats" "$@"
done
