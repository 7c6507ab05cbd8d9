#!/usr/bin/env bash
# `text2sign serve` under load on 127.0.0.1, one JSON line per run (each run starts its own server):
# one word as .pose with the default model, 1 client then 8 clients for 30 s, first with the answer
# cache on (a repeated phrase), then with it off and eight different words (every request signed);
# last, mixed load: 1 client asking for uncached poses while 4 others ask for 256 px GIFs (the
# pose client's percentiles, the drawings' under "draw").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${BIN:-.venv/bin}/python
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
WORDS=hello,world,thanks,please,sorry,friend,family,house
"$PY" -m text2sign.server.loadtest --clients 1 --seconds "$SECONDS_PER_RUN" --words hello
"$PY" -m text2sign.server.loadtest --clients 8 --seconds "$SECONDS_PER_RUN" --words hello
"$PY" -m text2sign.server.loadtest --clients 1 --seconds "$SECONDS_PER_RUN" --words "$WORDS" --server-arg=--cache-size=0
"$PY" -m text2sign.server.loadtest --clients 8 --seconds "$SECONDS_PER_RUN" --words "$WORDS" --server-arg=--cache-size=0
"$PY" -m text2sign.server.loadtest --clients 1 --seconds "$SECONDS_PER_RUN" --words "$WORDS" --server-arg=--cache-size=0 --draw-clients 4 --draw-size 256
