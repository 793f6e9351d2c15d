# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run): logging, port checks,
# waiting for a server, and stopping what a script started.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() {
	log "error: $*"
	exit 1
}

# port_free PORT HINT: dies when something listens on 127.0.0.1:PORT.
port_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		die "127.0.0.1:$1 is in use ($2)"
	fi
}

# wait_ready NAME URL PID LOG: waits up to 30 s for URL to answer 2xx,
# dying if process PID exits first; LOG is named in the error.
wait_ready() {
	for _ in $(seq 300); do
		curl -sf -o /dev/null "$2" && return 0
		kill -0 "$3" 2>/dev/null || die "$1 exited; see $4"
		sleep 0.1
	done
	die "$1 not ready after 30s; see $4"
}

# stop_pids PID...: SIGTERM to each process and its children, up to 5 s
# to exit, then SIGKILL. Empty arguments are skipped.
stop_pids() {
	local pid
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		pkill -TERM -P "$pid" 2>/dev/null || true
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		pkill -KILL -P "$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# free_port: prints a port on 127.0.0.1 that nothing listens on now (the
# kernel's choice of an ephemeral port), so that scripts never collide on
# a fixed port with another run or another engineer's server.
free_port() {
	"${PYTHON:-/usr/bin/python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# build_servers: builds bin/leadscore and the bare net/http control
# bin/bare, static, as the scripts measure them.
build_servers() {
	mkdir -p bin
	CGO_ENABLED=0 go build -trimpath -o bin/leadscore ./cmd/leadscore
	CGO_ENABLED=0 go build -trimpath -o bin/bare ./bench/bare
}

# cpu_ticks PID: the process's CPU time so far (utime+stime in
# /proc/PID/stat), in clock ticks (getconf CLK_TCK a second).
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# median: the median of the numbers on standard input, one a line (the
# mean of the middle two when there is an even count).
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# bench_metric UNIT...: the values a Go benchmark's output on standard
# input reports in any of the units named (cpu-us/op, cpu-ns/record, ...),
# one a line, in the order the benchmarks ran.
bench_metric() {
	awk -v units="$*" 'BEGIN {n = split(units, u, " "); for (k = 1; k <= n; k++) want[u[k]] = 1}
		/^Bench/ {for (i = 1; i < NF; i++) if ($(i+1) in want) print $i}'
}
