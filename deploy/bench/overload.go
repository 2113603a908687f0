package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"
)

// overloadSetup is bff-mobile's pass-through twice, with BFF_OVERLOAD=off
// and =adaptive.
type overloadSetup struct {
	path, header string
	modes        []string
	procs        []*proc
}

// The overload scenario's definition. Arrivals are open-loop: requests
// start at a fixed rate whatever the answers do, as independent clients
// arrive, so that a gateway slower than the arrivals builds a backlog
// instead of slowing its clients down (what a fixed number of
// connections does).
const (
	// overloadFactor is the arrival rate over the saturating throughput.
	overloadFactor = 2
	// unloadedFraction is the arrival rate of the unloaded run, as a
	// fraction of the saturating throughput.
	unloadedFraction = 0.1
	// overloadTimeout is how long a client waits for an answer: a request
	// unanswered by then is a timeout, as a mobile client would give up.
	overloadTimeout = time.Second
	// overloadMaxInFlight caps the generator's waiting requests (and so
	// its sockets); an arrival beyond it is counted unsent.
	overloadMaxInFlight = 4096
	// overloadConnections is how many keep-alive connections the clients
	// share, as behind a load balancer's pool: a request waits for a free
	// one, in the load balancer's queue rather than the gateway's.
	overloadConnections = 256
	// overloadRecovery is the pause after an overloaded run, in which an
	// instance left with a backlog drains it before the next run.
	overloadRecovery = 2 * time.Second
)

// overloadReport is the overload scenario's figures: medians over rounds.
type overloadReport struct {
	SaturatingRPS float64        `json:"saturatingRps"` // median of the rounds
	Rate          int            `json:"rate"`          // arrivals a second of the overloaded runs, median of the rounds
	UnloadedRate  int            `json:"unloadedRate"`  // arrivals a second of the unloaded runs
	PassClients   int            `json:"passClients"`
	Modes         []overloadMode `json:"modes"`
}

type overloadMode struct {
	Mode          string  `json:"mode"`
	UnloadedP99us float64 `json:"unloadedP99us"`
	AdmittedRPS   float64 `json:"admittedRps"`
	AdmittedP50us float64 `json:"admittedP50us"`
	AdmittedP99us float64 `json:"admittedP99us"`
	// Ratio is the median of the rounds' admitted p99 over the same
	// round's unloaded p99.
	Ratio     float64 `json:"p99VsUnloaded"`
	Shed      int     `json:"shed"`
	ShedP50us float64 `json:"shedP50us"`
	ShedP99us float64 `json:"shedP99us"`
	Timeouts  int     `json:"timeouts"` // timeouts and unsent arrivals, summed over rounds
	Errors    int     `json:"errors"`   // socket errors and answers other than 2xx and 503
	// UnloadedShed is the sheds of the unloaded runs: requests refused
	// when the instance had room for them.
	UnloadedShed int     `json:"unloadedShed"`
	LagP99us     float64 `json:"lagP99us"`
	RetryAfter   bool    `json:"shedRetryAfter"`
	// The pass-through benchmark on the same instance (wrk, PassClients
	// connections): what the limit costs when nobody is turned away.
	PassRPS    float64 `json:"passRps"` // 2xx answers a second
	PassP99us  float64 `json:"passP99us"`
	PassNon2xx int64   `json:"passNon2xx"`
	// PassCPUus is the gateway's CPU µs per answer of the pass-through
	// run, OverloadedCPUus per answer (admitted or shed) of the overloaded
	// one: how much cheaper a shed is than a served request.
	PassCPUus       float64 `json:"passCpuUsPerAnswer"`
	OverloadedCPUus float64 `json:"overloadedCpuUsPerAnswer"`
	// AdmittedShare is the median of the rounds' admitted req/s over the
	// round's saturating throughput.
	AdmittedShare float64         `json:"admittedShare"`
	Rounds        []overloadRound `json:"rounds"`
}

type overloadRound struct {
	SaturatingRPS   float64    `json:"saturatingRps"`
	Rate            int        `json:"rate"`
	Pass            wrkResult  `json:"pass"`
	PassCPUus       float64    `json:"passCpuUs"` // the gateway's CPU time over the pass-through run
	Unloaded        loadResult `json:"unloaded"`
	Overloaded      loadResult `json:"overloaded"`
	OverloadedCPUus float64    `json:"overloadedCpuUs"`
}

// overload measures, in each round: the pass-through benchmark on both
// instances (wrk, BENCH_CLIENTS connections; the limit-off instance's 2xx
// req/s is the round's saturating throughput), then on each instance, in
// alternating order, an unloaded open-loop run at a tenth of that and an
// overloaded one at twice it. Taking the saturating throughput in the
// round itself keeps the arrival rate twice what the core serves then,
// on a machine whose speed moves with other work.
func (h *harness) overload(ctx context.Context, ov *overloadSetup) (*overloadReport, error) {
	url := func(i int) string { return "http://" + ov.procs[i].addr + ov.path }
	rep := &overloadReport{PassClients: h.o.passClients}
	rounds := make([][]overloadRound, len(ov.modes))
	var sat, rates []float64
	for k := range h.o.rounds {
		pass := make([]overloadRound, len(ov.modes))
		for i, mode := range ov.modes {
			h.say("round %d/%d  overload-%s: pass-through c=%d", k+1, h.o.rounds, mode, h.o.passClients)
			var err error
			if pass[i].Pass, pass[i].PassCPUus, err = cpuOf(ov.procs[i], func() (wrkResult, error) {
				return runWrk(ctx, h.genCPU, h.tmp, "overload-"+mode, url(i), []string{ov.header}, nil, h.o.passClients, h.o.duration)
			}); err != nil {
				return nil, err
			}
		}
		p := pass[0].Pass
		s := float64(p.Requests-p.Status) / max(float64(p.DurationUs)/1e6, 1e-9)
		if s < 10 {
			return nil, fmt.Errorf("overload-off served %.0f req/s at the pass-through load; see %s", s, ov.procs[0].log)
		}
		rate, unloaded := int(overloadFactor*s), max(1, int(unloadedFraction*s))
		sat, rates = append(sat, s), append(rates, float64(rate))
		for _, i := range rotate([]int{0, 1}, k) {
			name := "overload-" + ov.modes[i]
			if !h.o.only.MatchString(name) {
				continue
			}
			r := pass[i]
			r.SaturatingRPS, r.Rate = s, rate
			var err error
			h.say("round %d/%d  %s: unloaded %d/s", k+1, h.o.rounds, name, unloaded)
			if r.Unloaded, err = h.load(ctx, url(i), ov.header, unloaded); err != nil {
				return nil, err
			}
			h.say("round %d/%d  %s: overloaded %d/s", k+1, h.o.rounds, name, rate)
			var wg sync.WaitGroup
			if h.o.profile && k == h.o.rounds-1 {
				// The last round's overloaded run is profiled whole, from
				// its second second (the arrivals are at their rate by
				// then): where a shed's CPU goes. The figures of that
				// round include the profiler's cost.
				secs := max(1, int(h.o.duration/time.Second)-1)
				wg.Go(func() {
					select {
					case <-time.After(time.Second):
						h.saveProfile(ctx, ov.procs[i], name+"-overloaded", fmt.Sprintf("profile?seconds=%d", secs), ".pb.gz", secs)
					case <-ctx.Done():
					}
				})
			}
			r.Overloaded, r.OverloadedCPUus, err = cpuOf(ov.procs[i], func() (loadResult, error) {
				return h.load(ctx, url(i), ov.header, rate)
			})
			wg.Wait()
			if err != nil {
				return nil, err
			}
			o := r.Overloaded
			h.say("  admitted %d (p99 %s), shed %d (p99 %s), timeouts %d, unsent %d, errors %d", o.Admitted, fmtUs(o.P99us), o.Shed, fmtUs(o.ShedP99us),
				o.Timeouts, o.Unsent, o.Transport+sum(o.Other))
			if !ov.procs[i].alive() {
				return nil, fmt.Errorf("%s exited; see %s", ov.procs[i].name, ov.procs[i].log)
			}
			rounds[i] = append(rounds[i], r)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(overloadRecovery):
			}
		}
	}
	rep.SaturatingRPS, rep.Rate = median(sat), int(median(rates))
	rep.UnloadedRate = max(1, int(unloadedFraction*rep.SaturatingRPS))
	for i, mode := range ov.modes {
		if len(rounds[i]) > 0 {
			rep.Modes = append(rep.Modes, summariseOverload(mode, rounds[i]))
		}
	}
	return rep, nil
}

// cpuOf runs f and returns, beside its result, the CPU time p used
// meanwhile, in µs (10 ms ticks).
func cpuOf[T any](p *proc, f func() (T, error)) (T, float64, error) {
	var zero T
	before, err := cpuTicks(p.pids())
	if err != nil {
		return zero, 0, err
	}
	r, err := f()
	if err != nil {
		return zero, 0, err
	}
	after, err := cpuTicks(p.pids())
	if err != nil {
		return zero, 0, err
	}
	return r, float64(after-before) * (1e6 / clockTick), nil
}

// summariseOverload is one mode's row: medians of the rounds, counts
// summed over them.
func summariseOverload(mode string, rs []overloadRound) overloadMode {
	m := overloadMode{Mode: mode, Rounds: rs, RetryAfter: true}
	var un, rps, p50, p99, ratio, s50, s99, lag, prps, pp99, pcpu, ocpu, share []float64
	for _, r := range rs {
		o := r.Overloaded
		un = append(un, r.Unloaded.P99us)
		rps = append(rps, float64(o.Admitted)/o.Seconds)
		p50, p99 = append(p50, o.P50us), append(p99, o.P99us)
		if r.Unloaded.P99us > 0 {
			ratio = append(ratio, o.P99us/r.Unloaded.P99us)
		}
		lag = append(lag, o.LagP99us)
		m.Shed += o.Shed
		if o.Shed > 0 {
			s50, s99 = append(s50, o.ShedP50us), append(s99, o.ShedP99us)
			m.RetryAfter = m.RetryAfter && o.RetryAfter
		}
		m.Timeouts += o.Timeouts + o.Unsent + r.Unloaded.Timeouts + r.Unloaded.Unsent
		m.Errors += o.Transport + sum(o.Other) + r.Unloaded.Transport + sum(r.Unloaded.Other)
		m.UnloadedShed += r.Unloaded.Shed
		prps = append(prps, float64(r.Pass.Requests-r.Pass.Status)/max(float64(r.Pass.DurationUs)/1e6, 1e-9))
		pp99 = append(pp99, float64(r.Pass.P99us))
		if r.Pass.Requests > 0 {
			pcpu = append(pcpu, r.PassCPUus/float64(r.Pass.Requests))
		}
		if n := o.Admitted + o.Shed; n > 0 {
			ocpu = append(ocpu, r.OverloadedCPUus/float64(n))
		}
		if r.SaturatingRPS > 0 {
			share = append(share, float64(o.Admitted)/o.Seconds/r.SaturatingRPS)
		}
		m.PassNon2xx += r.Pass.errors()
	}
	m.UnloadedP99us, m.AdmittedRPS, m.AdmittedP50us, m.AdmittedP99us = median(un), median(rps), median(p50), median(p99)
	m.Ratio, m.ShedP50us, m.ShedP99us, m.LagP99us = median(ratio), median(s50), median(s99), median(lag)
	m.PassRPS, m.PassP99us = median(prps), median(pp99)
	m.PassCPUus, m.OverloadedCPUus, m.AdmittedShare = median(pcpu), median(ocpu), median(share)
	m.RetryAfter = m.RetryAfter && m.Shed > 0
	return m
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// load runs the load subcommand, open-loop at rate for the run's
// duration, pinned to the load generator's core.
func (h *harness) load(ctx context.Context, url, header string, rate int) (loadResult, error) {
	args := []string{h.bins["bench"], "load", "-url", url, "-rate", strconv.Itoa(rate), "-duration", h.o.duration.String(),
		"-timeout", overloadTimeout.String(), "-max-inflight", strconv.Itoa(overloadMaxInFlight),
		"-connections", strconv.Itoa(overloadConnections), "-header", header}
	if h.genCPU != "" {
		args = append([]string{"taskset", "-c", h.genCPU}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return loadResult{}, fmt.Errorf("load: %w: %s", err, stderr.String())
	}
	var r loadResult
	return r, json.Unmarshal(out.Bytes(), &r)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
