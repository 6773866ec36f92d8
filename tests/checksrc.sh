#!/bin/sh
# checksrc.sh - the house rules a grep can keep honest (no banned calls, no
# assignment in conditions, ...), and the Makefile's promise that a user's
# CFLAGS never drop the flags the build needs.
n=0
bad=0
check() { # description pattern
	n=$((n + 1))
	hits=$(grep -rnE "$2" fcgi common cli --include='*.c' --include='*.h' | grep -v 'checksrc:allow')
	if [ -n "$hits" ]; then
		echo "not ok $n - $1"
		echo "$hits" | sed 's/^/#   /'
		bad=$((bad + 1))
	else
		echo "ok $n - $1"
	fi
}
check "no banned functions" '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|system|popen)[[:space:]]*\('
check "no FCGI_Accept (it swaps environ)" '\bFCGI_Accept\b|fcgi_stdio\.h'
# an assignment (=, +=, ...) right after "if (", "while (", && or || and any
# ( or !: catches "if ((x = f()) != NULL)" and "a && (x = f())", even on a
# condition's continuation line; ==, <=, >=, != do not match
ASSIGN_IN_COND='(\b(if|while)[[:space:]]*\(|&&|\|\|)[[:space:]!(]*\*?[A-Za-z_]([A-Za-z0-9_.]|->)*(\[[^]]*\])?[[:space:]]*([-+*/%|&^]|<<|>>)?=[^=]'
# the pattern must bite on these and spare those, or the check is blind
n=$((n + 1))
missed=$(printf '%s\n' 'if (x = f())' 'if ((p = strchr(s, 1)) != NULL)' \
    'while (n > 0 && (x = f(n)))' '	    || (size = ftell(f)) < 0' 'if (!(e = g()))' \
    'if (a && (p->len += 2) > 3)' 'if (ok && (v[i] = 0))' |
    grep -vE "$ASSIGN_IN_COND")
spared=$(printf '%s\n' 'if (x == f())' 'if (a && (b <= c))' 'if (p->n >= 2 || q != 1)' \
    'while (x && (y>=3))' 'x = a && b;' 'if (f(a, b) == 0 && (c & MASK) == 0)' |
    grep -E "$ASSIGN_IN_COND")
if [ -n "$missed$spared" ]; then
	echo "not ok $n - the assignment-in-condition pattern is wrong"
	printf '%s\n' "$missed" "$spared" | sed '/^$/d; s/^/#   /'
	bad=$((bad + 1))
else
	echo "ok $n - the assignment-in-condition pattern bites on its samples"
fi
check "no assignment inside if/while conditions" "$ASSIGN_IN_COND"
check "no reading client-side Anthropic/proxy variables" 'getenv\("(ANTHROPIC_API_KEY|HTTPS?_PROXY|https?_proxy|ALL_PROXY)"'
# layering: common/ is the core and never includes a header of fcgi/ or
# cli/ (the build compiles it without -Ifcgi -Icli; this names the file)
n=$((n + 1))
upward=$(for h in fcgi/*.h cli/*.h; do
	b=$(basename "$h")
	[ -e "common/$b" ] && continue
	grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*/)?$b\"" common/*.c common/*.h
done
grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.\./' common/*.c common/*.h)
if [ -n "$upward" ]; then
	echo "not ok $n - common/ includes nothing from fcgi/ or cli/"
	echo "$upward" | sort -u | sed 's/^/#   /'
	bad=$((bad + 1))
else
	echo "ok $n - common/ includes nothing from fcgi/ or cli/"
fi
# make CFLAGS=-O0 (or any user CFLAGS) must keep what the build needs: a
# dry run of every compile, plain and sanitizer builds
n=$((n + 1))
lost=$(for san in 0 1; do
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -B CC=mg-cc CFLAGS=-O0 SANITIZE=$san \
	    all unit 2>&1 | grep -E '^mg-cc .*\.c( |$)' | grep -vF -- '-std=c11 -D_GNU_SOURCE -Icommon'
done)
compiles=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -B CC=mg-cc CFLAGS=-O0 all unit 2>&1 |
    grep -cE '^mg-cc .*\.c( |$)')
if [ -n "$lost" ] || [ "$compiles" -lt 10 ]; then
	echo "not ok $n - make CFLAGS=-O0 keeps -std=c11 -D_GNU_SOURCE -Icommon ($compiles compiles)"
	echo "$lost" | head -n 5 | sed 's/^/#   /'
	bad=$((bad + 1))
else
	echo "ok $n - make CFLAGS=-O0 keeps -std=c11 -D_GNU_SOURCE -Icommon ($compiles compiles)"
fi
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
