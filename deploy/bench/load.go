package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadResult is what one closed-loop load run saw. wrk reports one
// latency distribution for all answers; the overload scenario needs the
// admitted (2xx) and shed (503) answers apart, hence this generator.
type loadResult struct {
	Clients    int            `json:"clients"`
	Seconds    float64        `json:"seconds"`
	Admitted   int            `json:"admitted"`
	Shed       int            `json:"shed"`
	Other      map[string]int `json:"other,omitempty"` // status -> count of anything else
	Transport  int            `json:"transportErrors"`
	FirstErr   string         `json:"firstError,omitempty"`
	P50us      float64        `json:"admittedP50us"`
	P99us      float64        `json:"admittedP99us"`
	ShedP50us  float64        `json:"shedP50us"`
	ShedP99us  float64        `json:"shedP99us"`
	RetryAfter bool           `json:"shedRetryAfter"`
}

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func runLoad(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	url := fs.String("url", "", "URL to GET")
	clients := fs.Int("clients", 1, "concurrent clients, each one request at a time")
	duration := fs.Duration("duration", 5*time.Second, "how long to load")
	var headers headerFlags
	fs.Var(&headers, "header", "'Name: value' sent with every request (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *clients < 1 || *clients > 10000 || *duration <= 0 {
		return errors.New("load: -url, -clients 1..10000 and a positive -duration are required")
	}
	hdr := http.Header{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("-header %q: want 'Name: value'", h)
		}
		hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res := load(ctx, *url, hdr, *clients, *duration)
	return json.NewEncoder(out).Encode(res)
}

func load(ctx context.Context, url string, hdr http.Header, clients int, d time.Duration) loadResult {
	t := transport()
	t.DisableCompression = true
	client := &http.Client{Transport: t, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu    sync.Mutex
		res   = loadResult{Clients: clients, Other: map[string]int{}}
		ok    []time.Duration
		shed  []time.Duration
		retry = true
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, url, nil)
				req.Header = hdr.Clone()
				t0 := time.Now()
				r, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, r.Body)
					_ = r.Body.Close()
				}
				el := time.Since(t0)
				mu.Lock()
				switch {
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
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Admitted, res.Shed = len(ok), len(shed)
	res.P50us, res.P99us = quantileUS(ok, 0.50), quantileUS(ok, 0.99)
	res.ShedP50us, res.ShedP99us = quantileUS(shed, 0.50), quantileUS(shed, 0.99)
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
