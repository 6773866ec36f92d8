#!/bin/sh
# lint.sh - static analysis for make lint: cppcheck over fcgi/ common/ cli/
# (one TAP line for the whole run) and clang-tidy with .clang-tidy (one TAP
# line per source file). Findings fail; a false positive is suppressed
# inline where it occurs, with a one-line reason. Last line:
# "N passed, N failed".
set -u
JOBS=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}
# the project's compile flags, minus code generation options
FLAGS=${CFLAGS_LINT:-"-std=c11 -D_GNU_SOURCE -Icommon -Ifcgi -Icli"}
DIRS="fcgi common cli"
pass=0
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

result() { # ok|fail description logfile
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n - $2"
		pass=$((pass + 1))
	else
		echo "not ok $n - $2"
		sed 's/^/#   /' "$3" | head -n 60
		fail=$((fail + 1))
	fi
}

if command -v cppcheck >/dev/null 2>&1; then
	start=$(date +%s)
	# shellcheck disable=SC2086
	cppcheck -q -j "$JOBS" --std=c11 -D_GNU_SOURCE \
		--enable=warning,performance,portability --inline-suppr --error-exitcode=1 \
		--template='{file}:{line}: {severity}: {message} [{id}]' \
		-Icommon -Ifcgi -Icli $DIRS >"$tmp/cppcheck" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$tmp/cppcheck" ]; then
		result ok "cppcheck $DIRS ($(($(date +%s) - start))s)"
	else
		result fail "cppcheck $DIRS (exit $rc)" "$tmp/cppcheck"
	fi
else
	echo "x" >"$tmp/none"
	result fail "cppcheck is not installed (make deps)" /dev/null
fi

if command -v clang-tidy >/dev/null 2>&1; then
	# one file per clang-tidy process, JOBS at a time; each writes its log
	# and exit status next to it
	for f in $(ls fcgi/*.c common/*.c cli/*.c 2>/dev/null); do
		echo "$f"
	done | xargs -P "$JOBS" -I{} sh -c '
		f={}; log='"$tmp"'/tidy.$(echo "$f" | tr / _)
		# shellcheck disable=SC2086
		clang-tidy --quiet "$f" -- '"$FLAGS"' >"$log" 2>&1
		echo $? >"$log.rc"'
	for f in fcgi/*.c common/*.c cli/*.c; do
		[ -f "$f" ] || continue
		log=$tmp/tidy.$(echo "$f" | tr / _)
		rc=$(cat "$log.rc" 2>/dev/null || echo 1)
		# "N warnings generated." is clang's count line, not a finding
		if [ "$rc" -eq 0 ] && ! grep -qE '(warning|error):' "$log"; then
			result ok "clang-tidy $f"
		else
			result fail "clang-tidy $f (exit $rc)" "$log"
		fi
	done
else
	result fail "clang-tidy is not installed (make deps)" /dev/null
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
