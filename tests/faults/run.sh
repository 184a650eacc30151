#!/usr/bin/env bash
# run.sh [--long] [--build DIR] [TEST ...]: runs the fault-injection suite (tests/faults/test_*.sh) on the binaries
# of DIR (default build/), one test after the other, with their output. --long sets FAULT_LONG=1: the long run's
# counts (50 hub kills, 50 agent kills, 80 rounds through the fault proxy, 10 full-disk rounds), instead of the
# bounded ones CI runs through ctest (`ctest -L faults`). FAULT_* variables set in the environment win
# (faults_lib.sh); FAULT_SEED=N repeats a run's random draws. TEST names a test (hub_kill, network, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
tests=()
while (($#)); do
	case $1 in
	--long) export FAULT_LONG=1 ;;
	--build) build=$2; shift ;;
	-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) tests+=("tests/faults/test_$1.sh") ;;
	esac
	shift
done
((${#tests[@]})) || tests=(tests/faults/test_*.sh)
export KIROKU_AGENT="$PWD/$build/agent/kiroku-agent" KIROKU_HUB="$PWD/$build/hub/kiroku-hub" KIROKU_SOURCE="$PWD"
[[ -x "$KIROKU_AGENT" && -x "$KIROKU_HUB" ]] || { echo "run.sh: build $build first (scripts/build.sh)" >&2; exit 1; }
failed=()
for t in "${tests[@]}"; do
	echo "=== $(basename "$t" .sh)"
	start=$(date +%s)
	rc=0
	bash "$t" || rc=$?
	if ((rc == 77)); then
		echo "=== $(basename "$t" .sh): skipped"
	elif ((rc)); then
		failed+=("$(basename "$t" .sh)")
		echo "=== $(basename "$t" .sh): FAILED (exit $rc) after $(($(date +%s) - start)) s"
	else
		echo "=== $(basename "$t" .sh): passed in $(($(date +%s) - start)) s"
	fi
done
if ((${#failed[@]})); then
	echo "failed: ${failed[*]}"
	exit 1
fi
echo "all fault tests passed"
