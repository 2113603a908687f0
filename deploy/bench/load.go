package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopfront/deploy/internal/pace"
)

// loadResult is what one open-loop load run saw. wrk holds a fixed number
// of connections (a closed loop, which slows its arrivals down as the
// server slows) and reports one latency distribution for all answers; the
// overload scenario needs arrivals that do not wait for answers, and the
// admitted (2xx) and shed (503) answers apart, hence this generator.
type loadResult struct {
	Rate      int            `json:"rate"` // arrivals a second asked for
	Seconds   float64        `json:"seconds"`
	Arrivals  int            `json:"arrivals"`
	Sent      int            `json:"sent"`
	Admitted  int            `json:"admitted"`
	Shed      int            `json:"shed"`
	Timeouts  int            `json:"timeouts"` // no answer within the timeout of the arrival
	Unsent    int            `json:"unsent"`   // arrivals dropped: the queue for a connection was full
	Other     map[string]int `json:"other,omitempty"`
	Transport int            `json:"transportErrors"`
	FirstErr  string         `json:"firstError,omitempty"`
	P50us     float64        `json:"admittedP50us"`
	P99us     float64        `json:"admittedP99us"`
	ShedP50us float64        `json:"shedP50us"`
	ShedP99us float64        `json:"shedP99us"`
	// LagP99us is how long requests waited before they were sent (p99):
	// for a free connection, and for the generator itself when its core
	// is busy.
	LagP99us   float64 `json:"lagP99us"`
	RetryAfter bool    `json:"shedRetryAfter"`
}

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// loadSpec is one open-loop run.
type loadSpec struct {
	url         string
	header      http.Header
	rate        int
	duration    time.Duration
	timeout     time.Duration
	maxInFlight int
	connections int
}

func runLoad(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	url := fs.String("url", "", "URL to GET")
	rate := fs.Int("rate", 100, "requests started a second, whatever the answers do")
	duration := fs.Duration("duration", 5*time.Second, "how long to start requests")
	timeout := fs.Duration("timeout", time.Second, "a request not answered within this of its arrival counts as a timeout")
	maxInFlight := fs.Int("max-inflight", 4096, "arrivals waiting for a connection at once; one beyond it is counted unsent")
	connections := fs.Int("connections", 256, "keep-alive connections; a request finding them all busy waits for one")
	var headers headerFlags
	fs.Var(&headers, "header", "'Name: value' sent with every request (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *rate < 1 || *rate > 100000 || *duration <= 0 || *timeout <= 0 || *maxInFlight < 1 || *connections < 1 {
		return errors.New("load: -url, -rate 1..100000, a positive -duration, -timeout, -max-inflight and -connections are required")
	}
	hdr := http.Header{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("-header %q: want 'Name: value'", h)
		}
		hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res := load(ctx, loadSpec{url: *url, header: hdr, rate: *rate, duration: *duration, timeout: *timeout, maxInFlight: *maxInFlight, connections: *connections})
	return json.NewEncoder(out).Encode(res)
}

// load starts requests at spec.rate for spec.duration and sends them over
// spec.connections keep-alive connections, each served by one worker in
// turn, as a load balancer's pool does: an arrival finding every
// connection busy waits in a queue (of at most spec.maxInFlight; beyond
// it, it is counted unsent), and one still waiting when its timeout
// passes is a timeout without being sent. Latency runs from the moment a
// request is sent to its answer's last byte; the queue's wait is reported
// apart (LagP99us).
func load(ctx context.Context, spec loadSpec) loadResult {
	t := transport()
	t.DisableCompression = true
	t.ResponseHeaderTimeout = 0
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = spec.connections, spec.connections, spec.connections
	client := &http.Client{Transport: t}
	defer t.CloseIdleConnections()
	runCtx, cancel := context.WithTimeout(ctx, spec.duration)
	defer cancel()
	var (
		mu       sync.Mutex
		res      = loadResult{Rate: spec.rate, Other: map[string]int{}}
		ok, shed []time.Duration
		lag      []time.Duration
		retry    = true
	)
	queue := make(chan time.Time, spec.maxInFlight)
	var workers sync.WaitGroup
	for range spec.connections {
		workers.Go(func() {
			for arrived := range queue {
				t0 := time.Now()
				deadline := arrived.Add(spec.timeout)
				if !t0.Before(deadline) {
					mu.Lock()
					res.Timeouts++
					lag = append(lag, t0.Sub(arrived))
					mu.Unlock()
					continue
				}
				rctx, rcancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
				req, _ := http.NewRequestWithContext(rctx, http.MethodGet, spec.url, nil)
				req.Header = spec.header.Clone()
				r, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, r.Body)
					_ = r.Body.Close()
				}
				el := time.Since(t0)
				rcancel()
				mu.Lock()
				res.Sent++
				lag = append(lag, t0.Sub(arrived))
				var ne net.Error
				switch {
				case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()):
					res.Timeouts++
				case err != nil:
					res.Transport++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				case r.StatusCode < 300:
					ok = append(ok, el)
				case r.StatusCode == http.StatusServiceUnavailable:
					shed = append(shed, el)
					retry = retry && r.Header.Get("Retry-After") != ""
				default:
					res.Other[fmt.Sprint(r.StatusCode)]++
				}
				mu.Unlock()
			}
		})
	}
	var l *pace.Load
	ready := make(chan struct{})
	l = pace.Start(runCtx, spec.rate, func(n int) {
		<-ready
		select {
		case queue <- l.Scheduled(n):
		default:
			mu.Lock()
			res.Unsent++
			mu.Unlock()
		}
	})
	close(ready)
	res.Arrivals = l.Wait()
	close(queue)
	workers.Wait()
	res.Seconds = spec.duration.Seconds()
	res.Admitted, res.Shed = len(ok), len(shed)
	res.P50us, res.P99us = quantileUS(ok, 0.50), quantileUS(ok, 0.99)
	res.ShedP50us, res.ShedP99us = quantileUS(shed, 0.50), quantileUS(shed, 0.99)
	res.LagP99us = quantileUS(lag, 0.99)
	res.RetryAfter = len(shed) > 0 && retry
	return res
}

func quantileUS(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds())
}
