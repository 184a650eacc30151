#!/usr/bin/env bash
# ci-fuzz.sh: builds kiroku's libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/, runs each for a bounded time on a scratch copy of its seed corpus
# (tests/fuzz/corpus/<target>, never written to), then replays the inputs of fixed crashes
# (tests/fuzz/regressions/<target>/*). Installs what it needs with apt-get when missing: clang-14 and
# libclang-rt-14-dev (libFuzzer's runtime, libclang_rt.fuzzer; clang alone only recommends it) and the
# build dependencies.
#
# Prints per target the executions run (libFuzzer's stat::number_of_executed_units) and the corpus growth, one
# "PASS name" or "FAIL name: why" line per check and "N passed, M failed" at the end; exits 1 if any check
# failed. A crash's input is kept under build-fuzz/artifacts/ (its path is printed): once the bug is fixed,
# copy it to tests/fuzz/regressions/<target>/crash-<short-name>.
# Environment: FUZZ_SECONDS (default 60) per target; FUZZ_TARGETS (default: every tests/fuzz/fuzz_*.c target,
# space-separated) to run some only; FUZZ_JOBS (default 1) parallel libFuzzer workers per target;
# KIROKU_CI_NO_APT=1 skips installing packages (they must be there already). The targets' stores live in a
# directory of /dev/shm (FUZZ_TMPDIR) that the script removes at the end.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
build=build-fuzz
artifacts="$root/$build/artifacts"
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
started=$(date +%s)

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiroku-ci-fuzz-XXXXXX")
# The targets' stores (fuzz_sync, fuzz_enroll) in memory when it can be; a crash leaves them, so remove them here.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then shm=$(mktemp -d /dev/shm/kiroku-ci-fuzz-XXXXXX); else shm=$scratch/tmp; fi
mkdir -p "$shm"
export FUZZ_TMPDIR=$shm
cleanup() {
  local rc=$?
  rm -rf "$scratch" "$shm"
  echo "ci-fuzz: $(($(date +%s) - started)) s"
  echo "$passed passed, $failed failed"
  if [ $failed -eq 0 ] && [ $rc -eq 0 ]; then exit 0; else exit 1; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- tools ----
packages=(clang-14 libclang-rt-14-dev cmake ninja-build pkg-config libsqlite3-dev libcbor-dev libmbedtls-dev
  libcurl4-openssl-dev libhttp-parser-dev libinih-dev)
if [ "${KIROKU_CI_NO_APT:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    if timeout 600 $sudo apt-get update -qq >"$scratch/apt.log" 2>&1 &&
      timeout 900 $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}" \
        >>"$scratch/apt.log" 2>&1; then
      pass "packages installed with apt-get (${missing[*]})"
    else
      tail -n 20 "$scratch/apt.log"
      fail "packages installed with apt-get (${missing[*]})"
      exit 1
    fi
  fi
fi
cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then fail "clang found" "install clang-14"; exit 1; fi

# ---- build ----
# -O1 and assertions on: asserts are invariants worth checking under fuzzing.
if CC=$cc cmake -S . -B "$build" -G Ninja -DKIROKU_FUZZ=ON -DKIROKU_TESTS=OFF -DKIROKU_BENCH=OFF \
  -DKIROKU_MAN=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >"$scratch/build.log" 2>&1 &&
  cmake --build "$build" --target fuzz >>"$scratch/build.log" 2>&1; then
  pass "build-fuzz: the fuzz targets built with $($cc --version | head -n 1)"
else
  tail -n 40 "$scratch/build.log"
  fail "build-fuzz: the fuzz targets built"
  exit 1
fi

targets=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//' | grep -vx -e fuzz_common -e fuzz_seeds)}
mkdir -p "$artifacts/previous"
# What an earlier run kept is moved aside, so that only this run's crashes count.
find "$artifacts" -maxdepth 1 -type f -exec mv -f {} "$artifacts/previous/" \;
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# fuzz_stat NAME LOG: the value of libFuzzer's final "stat::NAME: N" line.
fuzz_stat() { sed -n "s/^stat::$1: *\([0-9]*\)$/\1/p" "$2" | tail -n 1; }

# ---- fuzz ----
total_execs=0
for t in $targets; do
  bin="$build/tests/fuzz/$t"
  seeds="tests/fuzz/corpus/$t"
  work="$scratch/corpus-$t"
  log="$scratch/$t.log"
  opts=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
    -artifact_prefix="$artifacts/$t-")
  [ -f "tests/fuzz/$t.dict" ] && opts+=(-dict="tests/fuzz/$t.dict")
  [ "$jobs" -gt 1 ] && opts+=(-fork="$jobs")
  mkdir -p "$work"
  n_seeds=$(ls "$seeds" 2>/dev/null | wc -l)
  echo "ci-fuzz: $t for $seconds s on $n_seeds seeds"
  # New inputs go to the first directory (scratch); the committed seeds are only read.
  timeout -k 30 $((seconds * 2 + 300)) "$bin" "${opts[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(fuzz_stat number_of_executed_units "$log")
  rss=$(fuzz_stat peak_rss_mb "$log")
  found=$(ls "$work" | wc -l)
  total_execs=$((total_execs + ${execs:-0}))
  echo "  $t: ${execs:-?} executions, peak RSS ${rss:-?} MB, $found new inputs beyond the $n_seeds seeds"
  crash=$(ls "$artifacts"/"$t"-* 2>/dev/null | head -n 1)
  if [ $rc -eq 0 ] && [ -z "$crash" ]; then
    pass "$t: ${execs:-?} executions in $seconds s, no crash"
  else
    echo "--- last lines of $t's output:"
    grep -v "kiroku httpd:" "$log" | tail -n 60
    fail "$t" "exit $rc${crash:+, input kept in $crash (replay: $bin $crash)}"
  fi
done
echo "ci-fuzz: $total_execs executions in all"

# ---- regressions ----
for t in $targets; do
  dir="tests/fuzz/regressions/$t"
  files=()
  [ -d "$dir" ] && mapfile -t files < <(find "$dir" -type f | sort)
  [ ${#files[@]} -gt 0 ] || continue
  bin="$build/tests/fuzz/$t"
  if "$bin" "${files[@]}" >"$scratch/$t.replay.log" 2>&1; then
    pass "$t: the ${#files[@]} regression inputs of $dir replay without a crash"
  else
    grep -v "kiroku httpd:" "$scratch/$t.replay.log" | tail -n 40
    fail "$t: regression inputs of $dir" "a crash is back"
  fi
done
