# shellcheck shell=bash
# Process supervision shared by make run (deploy/dev/run.sh) and make
# run-cluster (deploy/cluster/run.sh): start programs in the background with
# their output prefixed per process, stop them all gracefully on Ctrl-C,
# SIGTERM or the exit of any one of them, and report each one's exit status.
#
# The sourcing script sets procs_label (the prefix of its own lines, e.g.
# "run") and calls procs_reset_signals "$@" first, before anything else.

pids=()
names=()
declare -A pid_of

# procs_reset_signals ARG...: a script that starts this one in the
# background (without job control) hands it SIGINT ignored, and bash cannot
# trap a signal ignored on entry: SIGINT would then reach the children but
# not the script, which would take their exit for a failure. Start the
# script again with the default dispositions (env --default-signal,
# coreutils 8.31+), so SIGINT and SIGTERM stop everything cleanly however
# it was started.
procs_reset_signals() {
	if [[ -z ${SHOPFRONT_RUN_SIGNALS_RESET:-} ]] && env --default-signal=INT true 2>/dev/null; then
		SHOPFRONT_RUN_SIGNALS_RESET=1 exec env --default-signal=INT,TERM "$BASH" "$0" "$@"
	fi
	unset SHOPFRONT_RUN_SIGNALS_RESET
}

# start NAME PROGRAM [ARG...]: runs PROGRAM with its output prefixed
# "[NAME] "; variables for it go in an env call (start web env A=1 prog).
# Process substitution keeps $! the program's own pid (not sed's), so the
# signal reaches the program and its drain runs. The prefixer ignores
# Ctrl-C and ends when the program closes its output: were it to die first,
# the program's shutdown logs would be lost and its next write would kill
# it with SIGPIPE in the middle of draining.
start() {
	local name="$1"
	shift
	"$@" > >(trap '' INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
	pids+=("$!")
	names+=("$name")
	pid_of[$name]=$!
}

procs_stopping=0
# procs_stop_all: SIGTERM to every process, SIGKILL to what is still there
# after 30 s (gateways drain for up to 25 s), then one line per process with
# its exit status. Calling it again does nothing.
procs_stop_all() {
	((procs_stopping)) && return
	procs_stopping=1
	echo "[$procs_label] stopping ${#pids[@]} processes"
	local pid i alive
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for _ in $(seq 300); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	# bash keeps the status of every child it reaped, and a second wait of
	# one returns it again, so this reports every one, the one that ended
	# the run included.
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" 2>/dev/null
		echo "[$procs_label] ${names[i]} exited with status $?"
	done
	wait 2>/dev/null
}

# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# procs_wait_any: returns never; when any process exits, says which and
# exits 1 (the EXIT trap then stops the rest). It polls each process every
# 0.2 s rather than blocking in `wait -n`: a Ctrl-C that interrupted
# `wait -n` just as a child exited could cost bash that child's status
# (procs_stop_all then reported nginx "exited with status -1" once), and
# a poll leaves every status to procs_stop_all's `wait`. A Ctrl-C reaches
# the children and the script together: the script runs its INT trap
# (exit 0) at the end of the poll's current command, and the pause before
# an exit is taken for a failure gives it that turn.
procs_wait_any() {
	local i rc
	while :; do
		for i in "${!pids[@]}"; do
			kill -0 "${pids[i]}" 2>/dev/null && continue
			sleep 0.5
			wait "${pids[i]}" 2>/dev/null
			rc=$?
			echo "[$procs_label] ${names[i]} exited (status $rc); stopping the others" >&2
			exit 1
		done
		sleep 0.2
	done
}
