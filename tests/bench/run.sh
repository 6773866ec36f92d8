#!/bin/sh
# run.sh - `make bench`: every benchmark in one run, each figure next to its
# baseline from the same run; prints the table and writes BENCHMARKS.md.
set -eu
OUT=${MG_OUT:-build/rel}
table=$(mktemp)
acc=$(mktemp)
body=$(mktemp)
packs=$(mktemp)
trap 'rm -f "$table" "$acc" "$body" "$packs"' EXIT
# the 77 KB Claude Code request the proxy benchmark sends, for the in-process one
python3 -c 'import json, sys; sys.path.insert(0, "tests/e2e"); from body import claude_code_body
json.dump(dict(claude_code_body(), stream=False), open(sys.argv[1], "w"))' "$body"
{
	echo "| measurement | value | against the baseline |"
	echo "|---|---|---|"
	"$OUT/bench/bench_mask"
	"$OUT/bench/bench_request" "$body"
	"$OUT/bench/bench_store"
	python3 tests/bench/proxy.py
	python3 tests/bench/pg_bench.py
} >"$table"
cat "$table"
# recognition on third-party material: per-family recall and false
# placeholders per 100 KB of non-AWS text (tests/corpus/README.md)
"$OUT/tests/test_corpus_thirdparty" | sed -n 's/^# |/|/p' >"$acc"
cat "$acc"
# the secrets, gcp and azure packs: per-family recall on scanners' fixtures
# and Debian files, false placeholders with aws,secrets (tests/corpus/packs)
"$OUT/tests/test_corpus_packs" | sed -n 's/^# |/|/p' >"$packs"
cat "$packs"
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
	echo
	echo "## Recognition on third-party material"
	echo
	echo "tests/corpus/thirdparty (tests/corpus/README.md): recall per family of"
	echo "labelled occurrences in AWS documentation examples and scanners' fixtures,"
	echo "and false placeholders in real non-AWS text."
	echo
	cat "$acc"
	echo
	echo "## Rule packs on third-party material"
	echo
	echo "tests/corpus/packs (tests/corpus/README.md): recall per family (all of"
	echo "each labelled value masked, packs aws,secrets,gcp,azure) on scanners'"
	echo "published fixtures and Debian package files, labelled from the providers'"
	echo "documented formats (ctx_*: found by context); false placeholders with the"
	echo "default packs in scanners' false-positive fixtures, SDK code, real"
	echo "configuration files and the non-AWS text above, per rule."
	echo
	cat "$packs"
	if [ -f tests/fuzz/last-run.md ]; then
		echo
		echo "## Fuzzing (last \`make fuzz\` run)"
		echo
		cat tests/fuzz/last-run.md
	fi
} >BENCHMARKS.md
echo "wrote BENCHMARKS.md"
