package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"time"
)

// overloadSetup is bff-mobile's pass-through twice, with BFF_OVERLOAD=off
// and =adaptive.
type overloadSetup struct {
	path, header string
	modes        []string
	procs        []*proc
}

// overloadReport is the overload scenario's figures: medians over rounds.
type overloadReport struct {
	UnloadedP99us float64         `json:"unloadedP99us"`
	Probe         map[int]float64 `json:"probeRps"` // clients -> req/s
	Saturating    int             `json:"saturatingClients"`
	Clients       int             `json:"clients"`
	Modes         []overloadMode  `json:"modes"`
}

type overloadMode struct {
	Mode          string       `json:"mode"`
	AdmittedRPS   float64      `json:"admittedRps"`
	AdmittedP99us float64      `json:"admittedP99us"`
	Shed          int          `json:"shed"`
	ShedP50us     float64      `json:"shedP50us"`
	ShedP99us     float64      `json:"shedP99us"`
	RetryAfter    bool         `json:"shedRetryAfter"`
	Rounds        []loadResult `json:"rounds"`
}

// overload finds where bff-mobile's pass-through saturates (doubling the
// clients until req/s grows by less than 10 % twice in a row), then loads it at twice
// that with the limit off and adaptive, in alternating rounds, with the
// load subcommand (it splits admitted and shed latencies, which wrk
// cannot).
func (h *harness) overload(ctx context.Context, ov *overloadSetup) (*overloadReport, error) {
	off := ov.procs[0]
	url := "http://" + off.addr + ov.path
	rep := &overloadReport{Probe: map[int]float64{}}
	h.say("overload: unloaded p99 (1 client)")
	base, err := h.load(ctx, url, ov.header, 1)
	if err != nil {
		return nil, err
	}
	rep.UnloadedP99us = base.P99us
	// A step that gains less than 10 % ends the probe only when the next
	// one does not gain either: one slow second on a busy machine must not
	// stop it early.
	best, sat, flat := 0.0, 1, 0
	for c := 4; c <= 512 && flat < 2; c *= 2 {
		r, err := runWrk(ctx, h.genCPU, h.tmp, "overload-probe", url, []string{ov.header}, nil, c, time.Second)
		if err != nil {
			return nil, err
		}
		rps := float64(r.Requests) / max(float64(r.DurationUs)/1e6, 1e-9)
		rep.Probe[c] = rps
		h.say("overload: probe c=%d %.0f req/s", c, rps)
		if rps < best*1.10 {
			flat++
			continue
		}
		best, sat, flat = rps, c, 0
	}
	rep.Saturating, rep.Clients = sat, 2*sat
	results := make([][]loadResult, len(ov.modes))
	for k := range h.o.rounds {
		for _, i := range rotate([]int{0, 1}, k) {
			if !h.o.only.MatchString("overload-" + ov.modes[i]) {
				continue
			}
			h.say("round %d/%d  overload-%s c=%d", k+1, h.o.rounds, ov.modes[i], rep.Clients)
			r, err := h.load(ctx, "http://"+ov.procs[i].addr+ov.path, ov.header, rep.Clients)
			if err != nil {
				return nil, err
			}
			if r.Transport > 0 || len(r.Other) > 0 {
				return nil, fmt.Errorf("overload-%s: %d transport errors (first: %s), other answers %v", ov.modes[i], r.Transport, r.FirstErr, r.Other)
			}
			results[i] = append(results[i], r)
		}
	}
	for i, mode := range ov.modes {
		rs := results[i]
		if len(rs) == 0 {
			continue
		}
		m := overloadMode{Mode: mode, Rounds: rs, RetryAfter: true}
		var rps, p99, s50, s99 []float64
		for _, r := range rs {
			rps = append(rps, float64(r.Admitted)/r.Seconds)
			p99 = append(p99, r.P99us)
			m.Shed += r.Shed
			if r.Shed > 0 {
				s50, s99 = append(s50, r.ShedP50us), append(s99, r.ShedP99us)
				m.RetryAfter = m.RetryAfter && r.RetryAfter
			}
		}
		m.AdmittedRPS, m.AdmittedP99us, m.ShedP50us, m.ShedP99us = median(rps), median(p99), median(s50), median(s99)
		m.RetryAfter = m.RetryAfter && m.Shed > 0
		rep.Modes = append(rep.Modes, m)
	}
	return rep, nil
}

// load runs the load subcommand pinned to the load generator's core.
func (h *harness) load(ctx context.Context, url, header string, clients int) (loadResult, error) {
	args := []string{h.bins["bench"], "load", "-url", url, "-clients", strconv.Itoa(clients), "-duration", h.o.duration.String(), "-header", header}
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
