#!/bin/sh
# deps.sh - installs the Debian and npm packages maskgate needs; a fast
# no-op when everything is present.
set -eu
PKGS="build-essential pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev
libpcre2-dev libsqlite3-dev libssl-dev libjwt-dev zlib1g-dev sqlite3 curl python3 python3-yaml
python3-botocore python3-cryptography libapache2-mod-auth-openidc
lighttpd lighttpd-mod-openssl apache2 libapache2-mod-fcgid libapache2-mod-qos spawn-fcgi openssl
bubblewrap
postgresql libpq-dev pgbouncer
nodejs npm chromium valgrind cppcheck clang clang-tidy libclang-rt-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	# node and npm may come from outside Debian on some machines
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
	fi
fi
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
	echo "deps: installing$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# JavaScript test clients (the Anthropic SDK, the Claude Code CLI, playwright-core
# driving Debian's chromium for the console, html-validate)
npm_missing=0
if [ -f tests/clients/package.json ]; then
	[ -d tests/clients/node_modules ] || npm_missing=1
	# a package added to package.json since the last install
	for m in $(node -e 'console.log(Object.keys(require("./tests/clients/package.json").dependencies).join(" "))'); do
		[ -d "tests/clients/node_modules/$m" ] || npm_missing=1
	done
fi
if [ "$npm_missing" = 1 ]; then
	echo "deps: npm install in tests/clients"
	(cd tests/clients && npm install --no-audit --no-fund --loglevel=error)
fi
