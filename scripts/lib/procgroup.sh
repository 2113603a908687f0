# Shared by scripts/smoke.sh and scripts/examples.sh, which start make run in
# a process group of its own and must prove it leaves nothing running.

# members PGID: the live (not zombie) processes of the group, from /proc so
# nothing beyond bash is needed. A zombie has exited; whether its parent has
# reaped it yet does not matter here.
members() {
	local f stat rest fields
	for f in /proc/[0-9]*/stat; do
		{ read -r stat <"$f"; } 2>/dev/null || continue
		rest="${stat##*) }" # after "pid (comm) ": state ppid pgrp ...
		read -r -a fields <<<"$rest"
		[[ ${fields[2]} == "$1" && ${fields[0]} != Z ]] || continue
		f="${f#/proc/}"
		echo "${f%/stat}"
	done
}
