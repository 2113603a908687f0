// Command bench is Shopfront's side-by-side benchmark harness (make
// bench). Run without a subcommand it builds the gateways, starts its own
// upstream, a plain reverse proxy, nginx (when installed), the gateways
// and a hand-written fan-out reference, loads each in alternating rounds
// with wrk, and writes a results directory and BENCHMARKS.md. The other
// subcommands are the processes it starts; each is its own process so
// that its CPU and memory can be read from /proc alone:
//
//	bench [run flags]          the harness (see -h)
//	bench upstream -addr A      the minimal domain-service stand-in
//	bench proxy -addr A -to U   a plain httputil.ReverseProxy to U
//	bench fanout -addr A -upstream U -shape home|product
//	                            the goroutine fan-out reference of an aggregate
//	bench load -url U -rate R -duration D [-timeout T] [-connections N] [-header 'K: V']...
//	                            an open-loop load generator that splits
//	                            latencies by status (the overload scenario)
//
// See docs/performance.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runHarness(ctx, args, os.Stdout)
	case "upstream":
		err = runUpstream(ctx, args)
	case "proxy":
		err = runProxy(ctx, args)
	case "fanout":
		err = runFanout(ctx, args)
	case "load":
		err = runLoad(ctx, args, os.Stdout)
	default:
		err = fmt.Errorf("unknown subcommand %q (run, upstream, proxy, fanout, load)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// serve serves h on addr until ctx ends. The address actually bound is
// printed on standard output first ("listening 127.0.0.1:N"), which is how
// the harness learns a port it asked the kernel for.
func serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
