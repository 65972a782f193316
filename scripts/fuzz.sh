#!/usr/bin/env bash
# Builds and runs libFuzzer targets: scripts/fuzz.sh path/to/foo_fuzz.cc ... (`make fuzz` passes
# every *_fuzz.cc under common/ proxy/ node/).
#
# Each target is built with clang++ (libFuzzer + ASan + UBSan, UB aborts) into build/fuzz/<name>
# and run for $FUZZ_SECONDS (default 30) seconds. The script fails if any target fails to build
# or finds a crash, leak, timeout or sanitizer report; reproducers go to build/fuzz/artifacts/.
#
# Comment lines in the fuzz source tell the script what else the target needs:
#   // fuzz-sources: proxy/resp/parser.cc other.cc   library sources to compile in
#   // fuzz-libs: -lxxhash                           extra link flags
#   // fuzz-dict: "\r\n"                             a libFuzzer dictionary entry
# The corpus persists in build/fuzz/corpus/<name>/ between runs.
#
# Environment: FUZZ_SECONDS, FUZZ_CXX (default clang++), BUILD (default build),
# FUZZ_FLAGS (extra libFuzzer flags, e.g. "-jobs=2" or "-seed=1").
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
cxx=${FUZZ_CXX:-clang++}
out=${BUILD:-build}/fuzz

if [[ $# -eq 0 ]]; then
  echo "fuzz.sh: no *_fuzz.cc targets given" >&2
  exit 0
fi
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found (Debian packages clang and libclang-rt-14-dev)" >&2
  exit 1
fi

# The values of every "// <key>: ..." line in a file, space-separated.
directive() {
  sed -n "s|^// $1:[[:space:]]*||p" "$2" | tr '\n' ' '
}

failed=()
for src in "$@"; do
  name=$(basename "$src" .cc)
  bin="$out/$name"
  corpus="$out/corpus/$name"
  artifacts="$out/artifacts/$name/"
  log="$out/$name.log"
  mkdir -p "$corpus" "$artifacts"

  # shellcheck disable=SC2046  # word splitting of the directive lists is intended
  if ! "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -I. -I"${BUILD:-build}/gen" "$src" $(directive fuzz-sources "$src") \
      -o "$bin" $(directive fuzz-libs "$src"); then
    echo "fuzz.sh: $name: build failed" >&2
    failed+=("$name (build)")
    continue
  fi

  dict_flag=()
  if grep -q '^// fuzz-dict:' "$src"; then
    directive_lines=$(sed -n 's|^// fuzz-dict:[[:space:]]*||p' "$src")
    printf '%s\n' "$directive_lines" >"$out/$name.dict"
    dict_flag=(-dict="$out/$name.dict")
  fi

  echo "== $name: fuzzing for ${seconds}s (log: $log)"
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  if "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$artifacts" "${dict_flag[@]}" ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
  else
    echo "fuzz.sh: $name: FAILED; last lines of $log:" >&2
    tail -40 "$log" >&2
    failed+=("$name")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
