package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what the done() hook of the Lua script prints.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUs int64 `json:"durationUs"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"` // answers other than 2xx and 3xx
	Timeout    int64 `json:"timeout"`
	P50us      int64 `json:"p50us"`
	P99us      int64 `json:"p99us"`
}

func (r wrkResult) errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

const wrkMarker = "BENCHJSON "

// wrkScript is the Lua of one scenario: rotate the Authorization header
// over tokens (when there are several: bff-web's per-user limit has no
// setting, so its load is spread over many users), and print the summary
// as one JSON line.
func wrkScript(tokens []string) string {
	var b strings.Builder
	if len(tokens) > 1 {
		b.WriteString("local auth = {\n")
		for _, t := range tokens {
			fmt.Fprintf(&b, "  %q,\n", "Bearer "+t)
		}
		b.WriteString("}\nlocal n = 0\nrequest = function()\n  n = n % #auth + 1\n  wrk.headers[\"Authorization\"] = auth[n]\n  return wrk.format()\nend\n")
	}
	b.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("` + wrkMarker + `{\"requests\":%d,\"durationUs\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50us\":%d,\"p99us\":%d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`)
	return b.String()
}

// runWrk runs wrk -t1 pinned to the load generator's core.
func runWrk(ctx context.Context, genCPU, dir, name, url string, headers, tokens []string, clients int, d time.Duration) (wrkResult, error) {
	script := filepath.Join(dir, name+".lua")
	if err := os.WriteFile(script, []byte(wrkScript(tokens)), 0o600); err != nil {
		return wrkResult{}, err
	}
	// wrk takes whole seconds; the harness's durations are whole seconds.
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	args := []string{"wrk", "-t1", "-c", strconv.Itoa(clients), "-d", strconv.FormatInt(secs, 10) + "s",
		"--timeout", "5s", "--latency", "-s", script}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	if genCPU != "" {
		args = append([]string{"taskset", "-c", genCPU}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", name, err, stderr.String())
	}
	for line := range strings.Lines(out.String()) {
		if raw, ok := strings.CutPrefix(strings.TrimSpace(line), wrkMarker); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				return wrkResult{}, fmt.Errorf("wrk %s: %w", name, err)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk %s printed no summary: %s", name, out.String())
}
