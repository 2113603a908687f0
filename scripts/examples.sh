#!/usr/bin/env bash
# Runs every example of README.md and docs/*.md against `make run`, so the
# documentation cannot drift from what the gateways do (make examples).
#
# Each fenced ```sh block is run, in order, by one bash per document
# (set -eo pipefail; the blocks of a document share their variables), in a
# scratch directory. Blocks fenced ```sh no-run are shown, not run (they
# start make run itself, need docker, or name placeholder paths).
#
# curl is wrapped: it fails unless the answer's status is 2xx, or the one a
# comment at the end of the line announces ("# 304, no body"), so an example
# that shows a success cannot quietly turn into an error.
#
# make run is started in its own process group as a script (SIGINT ignored
# there, the hard case), the examples run once /readyz answers 200 on the
# three admin listeners, then SIGINT goes to the group and make run must
# exit 0 with nothing left running. Needs curl, and the ports 9000,
# 8081-8083 and 18081-18083 free.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
timeout="${EXAMPLES_TIMEOUT:-180}"

# The examples document the defaults, not the caller's environment.
while read -r var; do
	[[ $var == BFF_* || $var == OTEL_* ]] && unset "$var"
done < <(compgen -e)

work="$(mktemp -d "${TMPDIR:-/tmp}/shopfront-examples.XXXXXX")"
log="$work/run.log"
pgid=""

say() { echo "[examples] $*"; }
fail() {
	echo "[examples] FAIL: $*" >&2
	[[ -s $log ]] && { echo "[examples] last lines of make run:" >&2; tail -n 30 "$log" >&2; }
	exit 1
}
# members PGID lists the live processes of a process group.
# shellcheck source=lib/procgroup.sh
source "$root/scripts/lib/procgroup.sh"
cleanup() {
	local rc=$?
	if [[ -n $pgid && -n "$(members "$pgid")" ]]; then
		kill -TERM -- "-$pgid" 2>/dev/null || true
		sleep 3
		kill -KILL -- "-$pgid" 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

command -v curl >/dev/null || fail "curl is not installed"
for p in 9000 8081 8082 8083 18081 18082 18083; do
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && fail "port $p is already in use (another make run?); stop it first"
done

make --no-print-directory build >"$log" 2>&1 || fail "make build"
setsid make --no-print-directory run >"$log" 2>&1 &
pgid=$!
say "make run started (process group $pgid)"
deadline=$((SECONDS + timeout))
for p in 18081 18082 18083; do
	until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$p/readyz")" == 200 ]]; do
		kill -0 "$pgid" 2>/dev/null || fail "make run exited before 127.0.0.1:$p/readyz answered 200"
		((SECONDS < deadline)) || fail "127.0.0.1:$p/readyz not 200 within ${timeout}s"
		sleep 0.5
	done
done
say "ready"

# extract FILE: the runnable sh blocks of FILE as one script, each command
# whose (last) line ends in "# NNN ..." prefixed with EXPECT_STATUS=NNN.
extract() {
	awk '
		/^```sh[ \t]*$/ { run = 1; printf "echo \"[examples] %s, block at line %d\" >&2\n", FILENAME, NR; next }
		/^```/ { run = 0; next }
		!run { next }
		/\\$/ { buf = buf $0 "\n"; next }
		{
			cmd = buf $0; buf = ""
			if (match($0, /#[ \t]*[1-5][0-9][0-9]([^0-9]|$)/)) {
				code = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", code)
				cmd = "EXPECT_STATUS=" code " " cmd
			}
			print cmd
		}' "$1"
}

wrapper='
curl() {
	local code rc=0 err
	err="$(mktemp)"
	command curl --max-time 20 -w "%{stderr}%{http_code}" "$@" 2>"$err" || rc=$?
	code="$(tail -c 3 "$err")"
	head -c -3 "$err" >&2; rm -f "$err"
	((rc == 0)) || { echo "[examples] curl failed (exit $rc): curl $*" >&2; return "$rc"; }
	if [[ -n ${EXPECT_STATUS:-} ]]; then
		[[ $code == "$EXPECT_STATUS" ]] || { echo "[examples] status $code, the example shows $EXPECT_STATUS: curl $*" >&2; return 1; }
	elif [[ $code != 2?? ]]; then
		echo "[examples] status $code, not 2xx: curl $*" >&2; return 1
	fi
}
'

files=(README.md docs/*.md)
ran=0
for f in "${files[@]}"; do
	script="$work/$(basename "$f").sh"
	{ echo "$wrapper"; extract "$f"; } >"$script"
	grep -q '^echo "\[examples\]' "$script" || continue
	mkdir -p "$work/scratch"
	say "running the examples of $f"
	(cd "$work/scratch" && bash -eo pipefail "$script" >"$work/out" 2>&1) || {
		cat "$work/out" >&2
		fail "an example of $f failed"
	}
	ran=$((ran + $(grep -c '^echo "\[examples\]' "$script")))
done
say "ok: $ran blocks"

say "sending SIGINT to process group $pgid"
kill -INT -- "-$pgid"
rc=0
wait "$pgid" || rc=$?
((rc == 0)) || fail "make run exited with status $rc after SIGINT"
for _ in $(seq 50); do
	[[ -z "$(members "$pgid")" ]] && break
	sleep 0.1
done
[[ -z "$(members "$pgid")" ]] || fail "processes of make run still running after it exited: $(members "$pgid" | tr '\n' ' ')"
pgid=""
grep -q 'exited with status [^0]' "$log" && fail "a process exited with a non-zero status: $(grep 'exited with status' "$log" | tr '\n' ' ')"
say "ok: make run stopped on SIGINT with status 0, nothing left running"
