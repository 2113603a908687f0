package edgetest

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Doc returns the text of the repository's docs/<name> (e.g. "errors.md"),
// found by walking up from the test's working directory, so the tests of
// every module can hold the documents to what the code does.
func Doc(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		raw, err := os.ReadFile(filepath.Join(dir, "docs", name))
		if err == nil {
			return string(raw)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no docs/%s in the working directory or its parents", name)
		}
		dir = parent
	}
}

var (
	headingPattern = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
	// slugDrop is what GitHub drops from a heading to make its anchor.
	slugDrop = regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)
)

// Anchors returns the anchors of the Markdown headings of doc as GitHub
// makes them ("## `rate_limited`" -> "rate_limited"), the targets of
// links such as errors.md#rate_limited.
func Anchors(doc string) map[string]bool {
	out := map[string]bool{}
	inFence := false
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		m := headingPattern.FindStringSubmatch(line)
		if inFence || m == nil {
			continue
		}
		slug := slugDrop.ReplaceAllString(strings.ToLower(m[1]), "")
		out[strings.ReplaceAll(slug, " ", "-")] = true
	}
	return out
}

// ConfigReference is what docs/configuration.md documents for one gateway.
type ConfigReference struct {
	// Vars are the environment variables, Keys the BFF_CONFIG YAML keys.
	Vars, Keys []string
}

var (
	varPattern = regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")
	keyPattern = regexp.MustCompile("`([a-z][a-z0-9_]*(?:\\.[a-z0-9_]+)*)`")
)

// DocConfigReference reads docs/configuration.md and returns what its
// tables document for gateway (e.g. "bff-mobile"): the rows of the
// sections "## Every gateway" and "## <gateway>", whose first column names
// the variables and second the YAML keys, each in backticks.
func DocConfigReference(t testing.TB, gateway string) ConfigReference {
	t.Helper()
	vars, keys := map[string]bool{}, map[string]bool{}
	section := ""
	for line := range strings.SplitSeq(Doc(t, "configuration.md"), "\n") {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(title)
			continue
		}
		if (section != "Every gateway" && section != gateway) || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		for _, m := range varPattern.FindAllStringSubmatch(cells[1], -1) {
			vars[m[1]] = true
		}
		for _, m := range keyPattern.FindAllStringSubmatch(cells[2], -1) {
			keys[m[1]] = true
		}
	}
	return ConfigReference{Vars: sortedKeys(vars), Keys: sortedKeys(keys)}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var metricPattern = regexp.MustCompile("`(shopfront_[a-z0-9_]+)`")

// DocMetrics returns, sorted, the metric families the table of the
// "## Metrics" section of docs/operations.md lists for gateway ("mobile",
// "web" or "partner"): the rows whose gateways column says "all" or names
// it.
func DocMetrics(t testing.TB, gateway string) []string {
	t.Helper()
	names := map[string]bool{}
	section := ""
	for line := range strings.SplitSeq(Doc(t, "operations.md"), "\n") {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(title)
			continue
		}
		cells := strings.Split(line, "|")
		if section != "Metrics" || len(cells) < 6 {
			continue
		}
		m := metricPattern.FindStringSubmatch(cells[1])
		gws := strings.TrimSpace(cells[4])
		if m != nil && (gws == "all" || slices.Contains(strings.Split(strings.ReplaceAll(gws, " ", ""), ","), gateway)) {
			names[m[1]] = true
		}
	}
	return sortedKeys(names)
}

// ScrapeFamilies returns, sorted, the shopfront_* metric families the admin
// listener at adminAddr exports on /metrics.
func ScrapeFamilies(t testing.TB, adminAddr string) []string {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatalf("scraping %s/metrics: %v", adminAddr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s/metrics: status %d, %v", adminAddr, resp.StatusCode, err)
	}
	names := map[string]bool{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" && strings.HasPrefix(f[2], "shopfront_") {
			names[f[2]] = true
		}
	}
	return sortedKeys(names)
}
