#!/usr/bin/env bash
# Run every built fuzz target for the given number of seconds, starting
# from its seed corpus (tests/fuzz/corpus/<name>) and dictionary. New
# inputs go to a scratch directory, so the tree is never written.
set -euo pipefail
build=${1:?build directory}
seconds=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
mkdir -p "$build/fuzz-artifacts"
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    mkdir -p "$scratch/$name"
    args=(-max_total_time="$seconds" -print_final_stats=0 -rss_limit_mb=2048
          -artifact_prefix="$build/fuzz-artifacts/$name-")
    [ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
    seeds=()
    [ -d "$here/corpus/$name" ] && seeds+=("$here/corpus/$name")
    echo "fuzz: $name for ${seconds}s"
    if ! "$bin" "${args[@]}" "$scratch/$name" "${seeds[@]}" \
            >"$scratch/$name.log" 2>&1; then
        tail -n 40 "$scratch/$name.log"
        echo "fuzz: $name FAILED" >&2
        status=1
    fi
done
exit $status
