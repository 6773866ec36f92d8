#!/bin/sh
# run.sh - every test: source checks, unit binaries, fuzz corpus replays and
# the end-to-end suite. Prints TAP per suite; the last line is the total
# "N passed, N failed" (", N skipped" appended when a suite skipped any);
# exits non-zero on any failure.
set -u
OUT=${MG_OUT:-build/rel}
export MG_BINDIR=${MG_BINDIR:-bin}
total_pass=0
total_fail=0
total_skip=0

# adds the counts from a suite's last line "N passed, N failed[, N skipped]"
tally() { # name logfile rc
	line=$(tail -n 1 "$2")
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
	f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
	s=$(echo "$line" | sed -n 's/^[0-9]* passed, [0-9]* failed, \([0-9]*\) skipped$/\1/p')
	if [ -z "$p" ]; then
		p=0
		f=1
		echo "not ok - $1: no summary line (exit $3)"
	elif [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $1: exit status $3"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + ${s:-0}))
	echo "# $1: $line"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "# source checks"
sh tests/checksrc.sh >"$log" 2>&1
rc=$?
cat "$log"
tally checksrc "$log" $rc

echo "# package checks"
python3 tests/depcheck.py >"$log" 2>&1
rc=$?
cat "$log"
tally depcheck "$log" $rc

for t in "$OUT"/tests/test_*; do
	[ -x "$t" ] || continue
	echo "# $(basename "$t")"
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	tally "$(basename "$t")" "$log" $rc
done

: >"$log"
for h in "$OUT"/fuzz/fuzz_*; do
	[ -x "$h" ] || continue
	name=$(basename "$h" | sed 's/^fuzz_//')
	if "$h" "tests/fuzz/corpus/$name" >/dev/null 2>&1; then
		echo "ok - fuzz replay $name" >>"$log"
	else
		echo "not ok - fuzz replay $name" >>"$log"
	fi
done
if [ -s "$log" ]; then
	cat "$log"
	echo "$(grep -c '^ok' "$log") passed, $(grep -c '^not ok' "$log") failed" >>"$log"
	tally fuzz-replay "$log" 0
fi

if [ "${MG_SKIP_E2E:-0}" != 1 ]; then
	echo "# end-to-end"
	python3 tests/e2e/run.py | tee "$log"
	tally e2e "$log" 0
	# the core of the suite again with every maskgate on PostgreSQL (a
	# private cluster the run starts and stops; MG_E2E_PG=0 leaves it out)
	if [ "${MG_E2E_PG:-1}" != 0 ]; then
		echo "# end-to-end on PostgreSQL"
		pgset=test_foundation,test_proxy,test_keys,test_leak,test_faults,test_claude_code_endpoint,test_recall,test_elems,test_guard
		# the sanitizer build repeats only the store-heavy part (CI time)
		[ "$OUT" = build/san ] && pgset=test_foundation,test_keys
		MG_E2E_DB=pg MG_E2E_FILTER=${MG_E2E_PG_FILTER:-$pgset} \
		    python3 tests/e2e/run.py | tee "$log"
		tally e2e-postgresql "$log" 0
	fi
fi

if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
