#!/usr/bin/env bash
# Smoke test of `make run` (deploy/dev/run.sh), as a newcomer uses it: starts
# it in the background in its own process group, waits until /readyz of the
# three admin listeners answers 200, gets tokens from the fake identity with
# the README's curl lines, calls one route on each gateway (and the partner
# with a development API key), then sends SIGINT to the group as Ctrl-C in a
# terminal would and checks that every process exited with status 0, that
# nothing of the group is left running and that no port is left listening.
# The audit line of the partner request must be in audit/ after the stop.
#
# It uses the real default ports (fakes 9000, gateways 8081-8083, admin
# 18081-18083), which no test listens on, and refuses to start when one is
# taken (another `make run`). Needs bash, curl and Linux /proc.
#
#   scripts/smoke.sh            # or: make smoke (builds first)
#   SMOKE_TIMEOUT=300 scripts/smoke.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# SMOKE_TIMEOUT bounds the wait for readiness (seconds, including the build
# make run starts with); the stop is bounded by run.sh's own 30 s.
timeout="${SMOKE_TIMEOUT:-180}"
ports=(9000 8081 8082 8083 18081 18082 18083)
admin=(18081 18082 18083)

# The run must see the embedded defaults, not whatever the caller's shell
# exports.
while read -r var; do
	[[ $var == BFF_* || $var == OTEL_* ]] && unset "$var"
done < <(compgen -e)

work="$(mktemp -d "${TMPDIR:-/tmp}/shopfront-smoke.XXXXXX")"
log="$work/run.log"
pgid=""

say() { echo "[smoke] $*"; }
fail() {
	echo "[smoke] FAIL: $*" >&2
	if [[ -s $log ]]; then
		echo "[smoke] last lines of make run:" >&2
		tail -n 40 "$log" >&2
	fi
	exit 1
}

# listening PORT: true when something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# members PGID lists the live processes of a process group.
# shellcheck source=lib/procgroup.sh
source "$root/scripts/lib/procgroup.sh"

cleanup() {
	local rc=$?
	# Whatever happened, leave nothing running: TERM lets the gateways
	# drain; KILL what is still there after run.sh's own bound.
	if [[ -n $pgid && -n "$(members "$pgid")" ]]; then
		kill -TERM -- "-$pgid" 2>/dev/null || true
		for _ in $(seq 350); do
			[[ -z "$(members "$pgid")" ]] && break
			sleep 0.1
		done
		kill -KILL -- "-$pgid" 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

command -v curl >/dev/null || fail "curl is not installed"
for p in "${ports[@]}"; do
	listening "$p" && fail "port $p is already in use (another make run?); stop it first"
done

# Job control gives make its own process group whose id is its pid, and
# leaves SIGINT as it is: without it, a background job of a script ignores
# SIGINT, and so would make and run.sh.
set -m
make --no-print-directory run >"$log" 2>&1 &
pgid=$!
set +m
say "make run started (process group $pgid); waiting up to ${timeout}s for /readyz"

deadline=$((SECONDS + timeout))
for p in "${admin[@]}"; do
	until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$p/readyz")" == 200 ]]; do
		[[ -n "$(members "$pgid")" ]] || fail "make run exited before 127.0.0.1:$p/readyz answered 200"
		((SECONDS < deadline)) || fail "127.0.0.1:$p/readyz did not answer 200 within ${timeout}s (SMOKE_TIMEOUT raises the bound)"
		sleep 0.5
	done
done
say "ready after ${SECONDS}s"

# expect STATUS DESCRIPTION CURL-ARGS...: the request must answer STATUS with
# a JSON body.
expect() {
	local want="$1" what="$2" got
	shift 2
	got="$(curl -s -o "$work/body" -w '%{http_code} %{content_type}' --max-time 10 "$@")" || fail "$what: curl failed"
	[[ ${got%% *} == "$want" ]] || fail "$what: status ${got%% *}, want $want: $(head -c 300 "$work/body")"
	[[ $want != 200 || ${got#* } == application/json* ]] || fail "$what: content type ${got#* }, want JSON"
	say "ok $what: $want"
}

for p in "${admin[@]}"; do
	expect 200 "GET 127.0.0.1:$p/healthz" "http://127.0.0.1:$p/healthz"
done

# The README's token lines, verbatim apart from the variable names. The
# tokens are never printed.
token=$(curl -s -d grant_type=password -d username=alice -d password=shopfront -d client_id=mobile \
	http://127.0.0.1:9000/identity/oauth/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
[[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "no JWT from the fake identity (password grant)"
ptoken=$(curl -s -d grant_type=client_credentials -d client_id=acme-client -d client_secret=acme-secret \
	-d scope='catalog:read orders:read' http://127.0.0.1:9000/identity/oauth/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
[[ $ptoken =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "no JWT from the fake identity (client credentials)"
say "ok tokens from the fake identity"

expect 200 "bff-mobile GET /v1/home (Bearer)" -H "Authorization: Bearer $token" http://127.0.0.1:8081/v1/home
expect 401 "bff-mobile GET /v1/home without a token" http://127.0.0.1:8081/v1/home
expect 200 "bff-web GET /v1/catalog?q=lamp (anonymous)" 'http://127.0.0.1:8082/v1/catalog?q=lamp'
expect 200 "bff-partner GET /v2/products (client credentials)" -H "Authorization: Bearer $ptoken" \
	'http://127.0.0.1:8083/v2/products?pageSize=5'
# The development key proves run.sh hands the partner its keys file.
rid="smoke-$$-$RANDOM"
expect 200 "bff-partner GET /v2/products/p-0001 (development API key)" -H "X-Request-Id: $rid" \
	-H "X-API-Key: sf_dev_acme_3vQ8kT2mW9xR4pLz" http://127.0.0.1:8083/v2/products/p-0001

say "sending SIGINT to process group $pgid"
kill -INT -- "-$pgid"
# run.sh kills what has not drained after 30 s; allow a little more.
for _ in $(seq 400); do
	[[ -z "$(members "$pgid")" ]] && break
	sleep 0.1
done
left="$(members "$pgid")"
[[ -z $left ]] || fail "still running 40 s after SIGINT: pids $(echo $left)"
wait "$pgid" 2>/dev/null || true
say "ok every process of the group exited"

for name in fakes mobile web partner; do
	grep -qx "\[run\] $name exited with status 0" "$log" ||
		fail "$name did not exit with status 0: $(grep "^\[run\] $name exited" "$log" || echo 'no exit reported')"
done
say "ok fakes, mobile, web and partner exited with status 0"

for p in "${ports[@]}"; do
	listening "$p" && fail "port $p still accepts connections after the stop"
done
say "ok no port left listening (${ports[*]})"

grep -qs "\"requestId\":\"$rid\"" audit/audit-*.jsonl || fail "no audit line for request $rid in $root/audit"
say "ok the partner request is in the audit log under audit/"

say "PASS in ${SECONDS}s"
