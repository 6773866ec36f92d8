#!/bin/sh
# run.sh - make fuzz: builds every tests/fuzz/fuzz_*.c with clang's
# libFuzzer, ASan and UBSan (the common sources compiled in, not the
# gcc-built archive), runs each for FUZZ_SECONDS on a copy of its corpus,
# merges inputs with new coverage back into tests/fuzz/corpus/NAME
# (-merge=1 keeps the additions minimal), and prints one table row per
# harness. The table also goes to tests/fuzz/last-run.md for the benchmark
# report. Crash inputs are kept in build/fuzz/artifacts/. Last line:
# "N passed, N failed" (a harness fails when it crashed or did not build).
# FUZZ_ONLY=NAME runs that harness alone (its row only in last-run.md).
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
OUT=build/fuzz
REPORT=tests/fuzz/last-run.md
# the Makefile passes its MG_STD and MG_LDLIBS; the defaults are the same
CFLAGS="-g -O1 ${MG_STD:--std=c11 -D_GNU_SOURCE -Icommon} -fno-omit-frame-pointer
 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
LIBS=${MG_LDLIBS:-"-lfcgi -lcurl -ljson-c -lpcre2-8 -lsqlite3 -lpq -lcrypto -ljwt -lz"}
pass=0
fail=0

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "not ok 1 - clang is not installed (make deps)"
	echo "0 passed, 1 failed"
	exit 1
fi
mkdir -p "$OUT/obj" "$OUT/artifacts"
sh scripts/embed.sh "$OUT/embed.c" || exit 1

# the common sources once, as objects; the harnesses link them directly
objs=""
for src in common/*.c "$OUT/embed.c"; do
	obj=$OUT/obj/$(basename "$src" .c).o
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find common -name '*.h' -newer "$obj")" ]; then
		# -fsanitize=fuzzer-no-link: coverage instrumentation without a main
		# shellcheck disable=SC2086
		$CLANG $(echo "$CFLAGS" | sed 's/fuzzer,/fuzzer-no-link,/') -c -o "$obj" "$src" ||
			{ echo "not ok - compile $src"; exit 1; }
	fi
	objs="$objs $obj"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "# libFuzzer run"
	echo
	echo "\`make fuzz FUZZ_SECONDS=$SECONDS_EACH\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
	echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')),"
	echo "$($CLANG --version | head -n 1); -fsanitize=fuzzer,address,undefined."
	echo
	echo "| harness | seconds | executions | exec/s | corpus before | corpus after | crashes |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
} >"$tmp/report"
printf '%-8s %8s %12s %8s %8s %8s %8s\n' harness seconds executions exec/s before after crashes

for h in tests/fuzz/fuzz_${FUZZ_ONLY:-*}.c; do
	name=$(basename "$h" .c | sed 's/^fuzz_//')
	bin=$OUT/fuzz_$name
	corpus=tests/fuzz/corpus/$name
	mkdir -p "$corpus"
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS -o "$bin" "$h" $objs $LIBS 2>"$tmp/build.$name"; then
		echo "not ok - build fuzz_$name"
		sed 's/^/#   /' "$tmp/build.$name" | head -n 30
		echo "| $name | - | build failed | - | - | - | - |" >>"$tmp/report"
		fail=$((fail + 1))
		continue
	fi
	work=$tmp/corpus.$name
	mkdir -p "$work"
	cp "$corpus"/* "$work"/ 2>/dev/null
	before=$(ls "$corpus" | wc -l)
	start=$(date +%s)
	# stdin from /dev/null: the config harness may name /dev/stdin as a file
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=25 \
		-rss_limit_mb=2048 -artifact_prefix="$OUT/artifacts/${name}-" "$work" \
		</dev/null >"$tmp/log.$name" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log.$name" | tail -n 1)
	execs=${execs:-0}
	crashes=$(grep -cE '^==[0-9]+==ERROR|^SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer|deadly signal|ERROR: libFuzzer' "$tmp/log.$name")
	[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
	# keep only inputs that add coverage, and never a crash input
	"$bin" -merge=1 "$corpus" "$work" </dev/null >"$tmp/merge.$name" 2>&1
	after=$(ls "$corpus" | wc -l)
	rate=$((execs / (secs > 0 ? secs : 1)))
	printf '%-8s %8s %12s %8s %8s %8s %8s\n' "$name" "$secs" "$execs" "$rate" "$before" "$after" "$crashes"
	echo "| $name | $secs | $execs | $rate | $before | $after | $crashes |" >>"$tmp/report"
	if [ "$crashes" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "# fuzz_$name crashed; the log ends with:"
		grep -vE '^#[0-9]+' "$tmp/log.$name" | tail -n 40 | sed 's/^/#   /'
		ls "$OUT/artifacts/${name}-"* 2>/dev/null | sed 's/^/#   artifact: /'
	fi
done
{
	echo
	echo "Crash inputs, if any, are in build/fuzz/artifacts/; new coverage was merged"
	echo "into tests/fuzz/corpus/ with -merge=1. Every corpus is replayed by \`make test\`."
} >>"$tmp/report"
cp "$tmp/report" "$REPORT"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
