#!/bin/sh
# run.sh - `make bench`: every benchmark in one run, each figure next to its
# baseline from the same run; prints the table and writes BENCHMARKS.md.
set -eu
OUT=${MG_OUT:-build/rel}
table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
	echo "| measurement | value | against the baseline |"
	echo "|---|---|---|"
	"$OUT/bench/bench_mask"
	"$OUT/bench/bench_store"
	python3 tests/bench/proxy.py
} >"$table"
cat "$table"
{
	echo "# Benchmarks"
	echo
	echo "Produced by \`make bench\` on $(date -u +%Y-%m-%d) on $(nproc) cores,"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) memory, $(uname -sr)."
	echo "Each figure is measured in the same run as its baseline; absolute"
	echo "numbers vary between machines, the ratios much less."
	echo
	cat "$table"
	if [ -f tests/fuzz/last-run.md ]; then
		echo
		echo "## Fuzzing (last \`make fuzz\` run)"
		echo
		cat tests/fuzz/last-run.md
	fi
} >BENCHMARKS.md
echo "wrote BENCHMARKS.md"
