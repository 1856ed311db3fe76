#!/usr/bin/env bash
# ctest repro.drivers-write-well-formed-csv: every experiment driver on a
# tiny process-mode setting through run.sh, then the CSVs are checked
# (header, fields, rounds; report.py --check) and counted, and the page and
# plots must exist. No timing is asserted.
#
#   selftest.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR}
out=$(mktemp -d /tmp/gmm-repro-selftest-XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

REPRO_MODES=proc REPRO_KS="1 2" REPRO_ROUNDS=2 REPRO_CHASE_MAX=1M REPRO_CHASE_LOADS=1000 \
  "$here/run.sh" "$build" "$out" all || fail "run.sh failed"
/usr/bin/python3 "$here/report.py" "$out" --check || fail "malformed CSV"

rows() { echo $(($(wc -l <"$out/$1") - 1)); }
expect_rows() { [[ "$(rows "$1")" == "$2" ]] || fail "$1 has $(rows "$1") rows, expected $2"; }
expect_rows fig8-proc.csv 4     # k = 1, 2 x 2 rounds
expect_rows detect-proc.csv 4   # kill, pause x 2 rounds
expect_rows boot-proc.csv 2
expect_rows fig7-proc.csv 20    # (4K..512K at 4K: 8) + (512K, 1M at 128K: 2), local and pool
for file in README.md fig8.png fig7.png detect.png boot.png run.json; do
  [[ -s "$out/$file" ]] || fail "$file missing"
done
echo PASS
