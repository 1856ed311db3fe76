#!/bin/sh
# Every test source of the tree is named by a CMakeLists.txt: a *_test.cpp
# or *_test.c that no test binary compiles never runs (a merge once dropped
# host/tests/watcher_test.cpp this way). Usage: check-tests-built.sh SOURCE_DIR
cd "${1:?usage: $0 SOURCE_DIR}" || exit 2
git rev-parse --git-dir >/dev/null 2>&1 || { echo "check-tests-built: $1 is not a git checkout" >&2; exit 2; }
lists=$(git ls-files '*CMakeLists.txt' 'CMakeLists.txt')
missing=0
for test in $(git ls-files '*_test.cpp' '*_test.c'); do
	grep -q "$(basename "$test")" $lists || { echo "not built: $test"; missing=1; }
done
[ "$missing" = 0 ] && echo "every test source is built"
exit "$missing"
