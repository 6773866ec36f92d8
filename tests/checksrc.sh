#!/bin/sh
# checksrc.sh - house rules from CONVENTIONS.md that a grep can keep honest.
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
check "no assignment inside if/while conditions" '\b(if|while)[[:space:]]*\(\(?[a-z_>.-]+[[:space:]]*=[^=]'
check "no reading client-side Anthropic/proxy variables" 'getenv\("(ANTHROPIC_API_KEY|HTTPS?_PROXY|https?_proxy|ALL_PROXY)"'
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
