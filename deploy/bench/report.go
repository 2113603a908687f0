package main

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// summary is the medians of every scenario over the rounds.
type summary struct {
	scenarios []*scenario
	byName    map[string][]measurement
	rounds    [][]measurement
	rss       map[string]int64
}

// row is one line of the table.
type row struct {
	Scenario   string   `json:"scenario"`
	Group      string   `json:"group"`
	Clients    int      `json:"clients"`
	RPS        float64  `json:"rps"`
	VsDirect   *float64 `json:"vsDirect,omitempty"`
	VsProxy    *float64 `json:"vsProxy,omitempty"`
	VsRef      *float64 `json:"vsFanout,omitempty"`
	CPUusPerRq float64  `json:"cpuUsPerRequest"`
	// CPUVsProxy and CPUVsRef are the CPU per request over the proxy's and
	// the fan-out's, medians of per-round ratios as the req/s ratios are.
	CPUVsProxy *float64 `json:"cpuVsProxy,omitempty"`
	CPUVsRef   *float64 `json:"cpuVsFanout,omitempty"`
	P50us      float64  `json:"p50us"`
	P99us      float64  `json:"p99us"`
	PeakRSS    int64    `json:"peakRssBytes"`
	Errors     int64    `json:"errors"`
	Requests   int64    `json:"requests"`
}

func summarise(scenarios []*scenario, rounds [][]measurement) *summary {
	s := &summary{scenarios: scenarios, byName: map[string][]measurement{}, rounds: rounds, rss: map[string]int64{}}
	for _, ms := range rounds {
		for _, m := range ms {
			s.byName[m.Scenario] = append(s.byName[m.Scenario], m)
		}
	}
	return s
}

// ratio is the median over rounds of this scenario's req/s divided by
// base's in the same round; nil when base did not run.
func (s *summary) ratio(name, base string) *float64 {
	return s.ratioOf(name, base, func(m measurement) float64 { return m.RPS })
}

// cpuRatio is ratio for the CPU time per request.
func (s *summary) cpuRatio(name, base string) *float64 {
	return s.ratioOf(name, base, func(m measurement) float64 { return m.CPUusPerRq })
}

// ratioOf is the median over rounds of this scenario's figure divided by
// base's in the same round; nil when base did not run.
func (s *summary) ratioOf(name, base string, figure func(measurement) float64) *float64 {
	if base == "" {
		return nil
	}
	var rs []float64
	for _, ms := range s.rounds {
		var a, b float64
		for _, m := range ms {
			switch m.Scenario {
			case name:
				a = figure(m)
			case base:
				b = figure(m)
			}
		}
		if a > 0 && b > 0 {
			rs = append(rs, a/b)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	v := median(rs)
	return &v
}

func (s *summary) rows() []row {
	var out []row
	for _, sc := range s.scenarios {
		ms := s.byName[sc.Name]
		r := row{Scenario: sc.Name, Group: sc.Group, Clients: sc.Clients, PeakRSS: s.rss[sc.Name],
			VsDirect: s.ratio(sc.Name, sc.vsDirect), VsProxy: s.ratio(sc.Name, sc.vsProxy), VsRef: s.ratio(sc.Name, sc.vsRef),
			CPUVsProxy: s.cpuRatio(sc.Name, sc.vsProxy), CPUVsRef: s.cpuRatio(sc.Name, sc.vsRef)}
		var rps, cpu, p50, p99 []float64
		for _, m := range ms {
			rps, cpu = append(rps, m.RPS), append(cpu, m.CPUusPerRq)
			p50, p99 = append(p50, float64(m.P50us)), append(p99, float64(m.P99us))
			r.Errors += m.Errors
			r.Requests += m.Requests
		}
		r.RPS, r.CPUusPerRq, r.P50us, r.P99us = median(rps), median(cpu), median(p50), median(p99)
		out = append(out, r)
	}
	return out
}

// report writes BENCHMARKS.md and its chart (the same name, .svg) and a
// copy of the chart into the results directory.
func (h *harness) report(s *summary, ov *overloadReport) error {
	rows := s.rows()
	svg := chart(rows)
	svgPath := strings.TrimSuffix(h.o.markdown, filepath.Ext(h.o.markdown)) + ".svg"
	if err := os.WriteFile(svgPath, svg, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.o.results, "chart.svg"), svg, 0o644); err != nil {
		return err
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmarks\n\n")
	w("Written by `make bench` (deploy/bench); how to run it and read it: [docs/performance.md](docs/performance.md).\n\n")
	if h.o.note != "" {
		w("**%s**\n\n", h.o.note)
	}
	w("Command: `%s` — %d rounds of %s per configuration, taken %s.\n\n", h.o.command, h.o.rounds, h.o.duration, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	w("## Machine\n\n")
	for _, l := range machine() {
		w("- %s\n", l)
	}
	w("\n## Set-up\n\n")
	w("- GOMAXPROCS=1 for every server; %s.\n", h.pinNote)
	w("- Round k runs every configuration once, the list rotated by k; ratios are medians of per-round ratios, the other figures medians of the rounds.\n")
	w("- One upstream process for all (deploy/bench `upstream`): replays the contracts' fake answers; aggregate sources are delayed %s.\n", h.o.delay)
	w("- `proxy` is a plain `httputil.ReverseProxy` (MaxIdleConnsPerHost 1024); `nginx` runs one worker, keep-alive upstream, access log off.\n")
	w("- Gateways: the whole chain with rate limits on and set far above the load (in-process stores, no Redis), access log to /dev/null, metrics, tracing always_on without export; bff-partner with its audit log on. Load: wrk -t1, no Accept-Encoding (nothing is compressed).\n")
	w("- CPU µs/request: utime+stime of the process under test over the run (/proc/<pid>/stat, 10 ms ticks) divided by requests; CPU vs proxy and vs fan-out are medians of per-round ratios of it; peak RSS is its VmHWM at the end.\n\n")
	w("![requests per second](%s)\n\n", filepath.Base(svgPath))
	w("## Results\n\n")
	w("| scenario | group | clients | req/s | vs direct | vs proxy | vs fan-out | CPU µs/req | CPU vs proxy | CPU vs fan-out | p50 | p99 | peak RSS | errors |\n")
	w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		w("| %s | %s | %d | %.0f | %s | %s | %s | %.0f | %s | %s | %s | %s | %.1f MB | %d |\n", r.Scenario, r.Group, r.Clients, r.RPS,
			fmtRatio(r.VsDirect), fmtRatio(r.VsProxy), fmtRatio(r.VsRef), r.CPUusPerRq, fmtRatio(r.CPUVsProxy), fmtRatio(r.CPUVsRef),
			fmtUs(r.P50us), fmtUs(r.P99us), float64(r.PeakRSS)/1e6, r.Errors)
	}
	if ov != nil {
		writeOverload(w, ov)
	}
	return os.WriteFile(h.o.markdown, b.Bytes(), 0o644)
}

// writeOverload is the overload section of the report.
func writeOverload(w func(string, ...any), ov *overloadReport) {
	w("\n## Overload\n\n")
	w("bff-mobile GET /v1/orders/{id}, open-loop arrivals over %d connections ([docs/overload.md](docs/overload.md)). "+
		"Saturating throughput %.0f req/s (wrk, %d connections, limit off; median of the rounds, each round loaded at its own); "+
		"unloaded runs at a tenth of it, overloaded runs at %d× (%d/s); a request unanswered %s after it arrived is a timeout.\n\n",
		overloadConnections, ov.SaturatingRPS, ov.PassClients, overloadFactor, ov.Rate, overloadTimeout)
	w("| BFF_OVERLOAD | unloaded p99 | unloaded sheds | admitted req/s | of saturating | admitted p50 | admitted p99 | p99 vs unloaded | shed (503) | shed p50 | shed p99 | timeouts | errors | wait to send p99 |\n")
	w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, m := range ov.Modes {
		s50, s99 := "—", "—"
		if m.Shed > 0 {
			s50, s99 = fmtUs(m.ShedP50us), fmtUs(m.ShedP99us)
		}
		w("| %s | %s | %d | %.0f | %.0f %% | %s | %s | %.1f× | %d | %s | %s | %d | %d | %s |\n", m.Mode, fmtUs(m.UnloadedP99us), m.UnloadedShed, m.AdmittedRPS, 100*m.AdmittedShare,
			fmtUs(m.AdmittedP50us), fmtUs(m.AdmittedP99us), m.Ratio, m.Shed, s50, s99, m.Timeouts, m.Errors, fmtUs(m.LagP99us))
	}
	w("\nThe same instances at the pass-through benchmark's load (wrk, %d connections, a closed loop), and the gateway's CPU per answer.\n\n", ov.PassClients)
	w("| BFF_OVERLOAD | 2xx req/s | p99 | non-2xx | CPU µs/answer, pass-through | CPU µs/answer, overloaded |\n|---|--:|--:|--:|--:|--:|\n")
	for _, m := range ov.Modes {
		w("| %s | %.0f | %s | %d | %.0f | %.0f |\n", m.Mode, m.PassRPS, fmtUs(m.PassP99us), m.PassNon2xx, m.PassCPUus, m.OverloadedCPUus)
	}
}

func fmtRatio(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *v)
}

func fmtUs(us float64) string {
	if us >= 10000 {
		return fmt.Sprintf("%.1f ms", us/1000)
	}
	return fmt.Sprintf("%.2f ms", us/1000)
}

// machine describes where the figures were taken.
func machine() []string {
	var out []string
	cpu := "unknown"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	out = append(out, fmt.Sprintf("CPU: %s, %d cores", cpu, runtime.NumCPU()))
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(raw), "\n")
		if f := strings.Fields(strings.TrimPrefix(line, "MemTotal:")); len(f) == 2 && f[1] == "kB" {
			kb, _ := strconv.ParseFloat(f[0], 64)
			out = append(out, fmt.Sprintf("Memory: %.1f GiB", kb/(1<<20)))
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		out = append(out, "Kernel: Linux "+strings.TrimSpace(string(raw)))
	}
	out = append(out, "Go: "+runtime.Version())
	out = append(out, "wrk: "+version("wrk", "--version"))
	out = append(out, "nginx: "+version("nginx", "-v"))
	return out
}

func version(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return "not installed"
	}
	// wrk prints its copyright on the version line.
	line, _, _ = strings.Cut(line, " Copyright")
	return strings.TrimSpace(line)
}

// chart is a horizontal bar chart of req/s, one bar per scenario, bars
// scaled within their group (pass-through figures dwarf the aggregates').
func chart(rows []row) []byte {
	const (
		left, barMax, rowH, top = 330, 420, 22, 40
	)
	groupMax := map[string]float64{}
	for _, r := range rows {
		groupMax[r.Group] = max(groupMax[r.Group], r.RPS)
	}
	height := top + rowH*len(rows) + 20
	var groups int
	prev := ""
	for _, r := range rows {
		if r.Group != prev {
			groups++
			prev = r.Group
		}
	}
	height += groups * rowH
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+barMax+120, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">Requests per second (median of rounds; bars scaled within each group)</text>`+"\n")
	y := top
	prev = ""
	for _, r := range rows {
		if r.Group != prev {
			fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+15, html.EscapeString(r.Group))
			y += rowH
			prev = r.Group
		}
		w := 0.0
		if m := groupMax[r.Group]; m > 0 {
			w = r.RPS / m * barMax
		}
		fill := "#9aa5b1"
		switch {
		case strings.HasPrefix(r.Scenario, "mobile"), strings.HasPrefix(r.Scenario, "web"), strings.HasPrefix(r.Scenario, "partner"):
			fill = "#2f6fb0"
		case r.Scenario == "nginx":
			fill = "#4f9a5a"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s (c=%d)</text>`+"\n", left-8, y+15, html.EscapeString(r.Scenario), r.Clients)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+3, w, rowH-6, fill)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.0f</text>`+"\n", float64(left)+w+6, y+15, r.RPS)
		y += rowH
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
