#!/bin/sh
# valgrind.sh - every unit test binary under valgrind (memcheck): any memory
# error or definite leak fails the binary. Forked children (the concurrency
# tests) are traced too. Prints TAP, the last line is "N passed, N failed".
set -u
OUT=${MG_OUT:-build/rel}
SUPP=tests/valgrind.supp
pass=0
fail=0
n=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

if ! command -v valgrind >/dev/null 2>&1; then
	echo "not ok 1 - valgrind is not installed (make deps)"
	echo "0 passed, 1 failed"
	exit 1
fi
for t in "$OUT"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	n=$((n + 1))
	start=$(date +%s)
	# --trace-children: the 8-process store tests fork; children must be
	# clean too. nouserintercepts: test_torture defines malloc itself and
	# forwards to __libc_malloc, which valgrind still replaces. Exit code
	# 99 marks a valgrind finding, apart from a test failure (exit 1).
	valgrind -q --soname-synonyms=somalloc=nouserintercepts --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --track-fds=no --trace-children=yes \
		--child-silent-after-fork=no --suppressions="$SUPP" --num-callers=30 \
		"$t" >"$log/$name.out" 2>"$log/$name.err"
	rc=$?
	secs=$(($(date +%s) - start))
	summary=$(tail -n 1 "$log/$name.out")
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $name under valgrind (${secs}s; $summary)"
		pass=$((pass + 1))
	else
		echo "not ok $n - $name under valgrind: exit $rc (${secs}s; $summary)"
		grep -E '^not ok' "$log/$name.out" | sed 's/^/#   /'
		sed 's/^/#   /' "$log/$name.err" | head -n 200
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
