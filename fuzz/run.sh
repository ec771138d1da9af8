#!/usr/bin/env bash
# Builds and runs every fuzz target for SECONDS each (default 60); a longer
# campaign is the same with a larger number: `bash fuzz/run.sh 3600`.
# Stops at the first crash, printing the reproducer's path; a crash found
# becomes a regression test in the module it hit (see fuzz/README.md).
#
# cargo fuzz needs nightly flags (-Z sanitizer, -C passes=sancov); on the
# stable toolchain RUSTC_BOOTSTRAP=1 lets rustc accept them. The build uses
# the default AddressSanitizer, in the fuzz crate's own target dir
# (fuzz/target), never the main one.
#
# Environment: FUZZ_TARGETS="a b" runs only those; FUZZ_BUILD_ONLY=1 builds;
# FUZZ_DEV=1 builds without optimisations (cargo fuzz --dev): far quicker to
# build from nothing (Pingora and all), slower to run — what CI uses.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-60}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$PWD/target"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
start=$(date +%s)
mode=()
[ -n "${FUZZ_DEV:-}" ] && mode=(--dev)
cargo fuzz build "${mode[@]}"
echo "fuzz: built in $(( $(date +%s) - start )) s" >&2
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

for t in $targets; do
  # New inputs go to a scratch corpus (ignored by git); the committed seeds
  # are read from corpus/<target>.
  work="target/corpus/$t"
  mkdir -p "$work" "corpus/$t" "artifacts/$t"
  echo "fuzz: $t for ${SECONDS_EACH}s" >&2
  if ! cargo fuzz run "${mode[@]}" "$t" "$work" "corpus/$t" -- \
      -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      >"target/$t.log" 2>&1; then
    tail -n 40 "target/$t.log" >&2
    echo "fuzz: $t FAILED; reproducer: $(ls -t artifacts/"$t"/* 2>/dev/null | head -n 1)" >&2
    echo "fuzz: rerun it with: RUSTC_BOOTSTRAP=1 cargo fuzz run $t <that file>" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "target/$t.log" | tail -n 1 >&2 || true
done
echo "fuzz: every target ran ${SECONDS_EACH}s without a crash" >&2
