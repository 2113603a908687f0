// Command fakes serves the fake Shopfront domain services on one address
// (default 127.0.0.1:9000; -addr or FAKES_ADDR to change) until SIGINT or
// SIGTERM, logging one JSON line per request.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/shopfront/contracts/fakes"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "fakes:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	addr := "127.0.0.1:9000"
	if v, ok := lookup("FAKES_ADDR"); ok && v != "" {
		addr = v
	}
	fs := flag.NewFlagSet("fakes", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", addr, "listen address (env FAKES_ADDR)")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := zap.NewProduction()
	if err != nil {
		return fmt.Errorf("building logger: %w", err)
	}
	defer func() { _ = log.Sync() }()

	f, err := fakes.New(fakes.Options{Seed: *seed})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: handler(log, f), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("fakes listening", zap.String("addr", ln.Addr().String()), zap.String("kid", f.KeyID()))

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("fakes stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// handler is the command's whole handler chain: the access log around the
// fakes.
func handler(log *zap.Logger, f *fakes.Fakes) http.Handler {
	return accessLog(log, f.Handler())
}

// accessLog writes one line per request. Only the path is logged, never
// headers or bodies, which may hold tokens or passwords. The line is written
// in a defer so that a handler aborted with http.ErrAbortHandler (a `down`
// fault that cannot hijack, as on HTTP/2) still leaves its line.
func accessLog(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			log.Info("request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", rec.status), zap.Duration("latency", time.Since(start)),
				zap.String("requestId", r.Header.Get("X-Request-Id")))
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status code for the access log; it stays 0
// when nothing was answered (a `down` fault, or a caller that left).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection to hijack it
// (the `down` fault) and to flush; without it the fakes could only abort.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
