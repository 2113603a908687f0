package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one server process under the harness: its pid is the one /proc
// figures are read from (taskset execs the program, so the pid is the
// program's own).
type proc struct {
	name  string
	cmd   *exec.Cmd
	addr  string // public host:port
	admin string // admin host:port of a gateway, "" otherwise
	done  chan struct{}
	log   string
}

// pids are the process and its children: nginx's worker does the work
// its master forks.
func (p *proc) pids() []int {
	pid := p.cmd.Process.Pid
	out := []int{pid}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		for _, f := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop ends the process: SIGTERM, then SIGKILL after a few seconds.
func (p *proc) stop() {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// launcher starts server processes pinned to the servers' core with
// GOMAXPROCS=1 and a clean environment (no BFF_ or OTEL_ variables of the
// caller's shell leak into a configuration).
type launcher struct {
	serverCPU string // "" when not pinning
	logs      string
	procs     []*proc
}

func (l *launcher) env(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BFF_") || strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "GOMAXPROCS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GOMAXPROCS=1"), extra...)
}

func (l *launcher) command(argv []string) *exec.Cmd {
	if l.serverCPU != "" {
		argv = append([]string{"taskset", "-c", l.serverCPU}, argv...)
	}
	return exec.Command(argv[0], argv[1:]...)
}

// startListener starts one of this binary's server subcommands, which
// print "listening host:port" first.
func (l *launcher) startListener(ctx context.Context, name string, argv ...string) (*proc, error) {
	cmd := l.command(argv)
	cmd.Env = l.env(nil)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := l.track(name, cmd)
	if err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addrc <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening; see %s", name, p.log)
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s did not listen within 30s; see %s", name, p.log)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startGateway starts a gateway binary on free ports, its access log
// (standard output) to /dev/null, and waits until its /readyz answers 200.
func (l *launcher) startGateway(ctx context.Context, name, bin string, env []string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := l.command([]string{bin})
	cmd.Env = l.env(append([]string{"BFF_ADDR=" + addr, "BFF_ADMIN_ADDR=" + admin, "BFF_SHUTDOWN_TIMEOUT=2s"}, env...))
	cmd.Dir = l.logs
	p, err := l.track(name, cmd)
	if err != nil {
		return nil, err
	}
	p.addr, p.admin = addr, admin
	if err := waitReady(ctx, p, "http://"+admin+"/readyz"); err != nil {
		return nil, err
	}
	return p, nil
}

// startNginx runs nginx in the foreground under its own temporary prefix:
// one worker, keep-alive connections to the upstream, access log off.
func (l *launcher) startNginx(ctx context.Context, upstream string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	prefix, err := os.MkdirTemp(l.logs, "nginx-")
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_requests 1000000;
    upstream shopfront { server %[2]s; keepalive 256; keepalive_requests 1000000; }
    server {
        listen %[3]s;
        location / {
            proxy_pass http://shopfront;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }
    }
}
`, prefix, upstream, addr)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := l.command([]string{"nginx", "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "error.log")})
	cmd.Env = l.env(nil)
	p, err := l.track("nginx", cmd)
	if err != nil {
		return nil, err
	}
	p.addr = addr
	if err := waitReady(ctx, p, "http://"+addr+"/__bench/nothing"); err != nil {
		return nil, err
	}
	return p, nil
}

// track starts cmd with its standard error in logs/<name>.log (standard
// output, unless piped, is discarded: a gateway's access log goes there)
// and keeps it to stop.
func (l *launcher) track(name string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(l.logs, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(p.done) }()
	l.procs = append(l.procs, p)
	return p, nil
}

// stopAll stops every process started, last first.
func (l *launcher) stopAll() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		l.procs[i].stop()
	}
	l.procs = nil
}

// waitReady polls url until it answers (200 for a gateway's /readyz, any
// answer for nginx) or the process exits.
func waitReady(ctx context.Context, p *proc, url string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return fmt.Errorf("%s exited during start-up; see %s", p.name, p.log)
		}
		res, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if p.admin == "" || res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s was not ready within 60s; see %s", p.name, p.log)
}

// freeAddr asks the kernel for a free loopback port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuTicks is the user plus system CPU time of pids, in clock ticks
// (fields 14 and 15 of /proc/<pid>/stat).
func cpuTicks(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The command name (field 2) may hold spaces: count from its ")".
		s := string(raw)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return 0, errors.New("unreadable /proc stat")
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			return 0, errors.New("short /proc stat")
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, err
		}
		total += u + st
	}
	return total, nil
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// peakRSS is the sum of VmHWM of pids, in bytes.
func peakRSS(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(raw)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
