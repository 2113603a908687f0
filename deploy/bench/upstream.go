package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shopfront/contracts/fakes"
)

// maxReplays bounds the replay table: the measured routes ask a few dozen
// distinct upstream requests; anything beyond is answered but not kept.
const maxReplays = 4096

// maxDelay bounds the delay a path may ask for.
const maxDelay = 10 * time.Second

// upstream is the minimal domain-service stand-in every configuration
// calls. Each distinct GET is answered once by the contracts' fakes (so
// the body is a valid encoding of the domain type the route reads) and
// its answer replayed verbatim after that: measured requests cost a map
// lookup and a write, the same for every configuration.
//
// A path may start with /d/<duration>/ (e.g. /d/20ms/users/users/u-001):
// the answer then waits that long, which is how aggregate sources are
// slowed while pass-through routes share the same process undelayed.
type upstream struct {
	f *fakes.Fakes
	// log receives a line per request recorded while serving, which is
	// how the calls each configuration makes can be compared
	// (logs/upstream.log). Optional: nil logs nothing.
	log     io.Writer
	mu      sync.RWMutex
	replays map[string]replay
}

type replay struct {
	status      int
	contentType string
	body        []byte
}

func newUpstream() (*upstream, error) {
	f, err := fakes.New(fakes.Options{Seed: 1})
	if err != nil {
		return nil, err
	}
	u := &upstream{f: f, replays: map[string]replay{}}
	// The key set and the fan-out's first stages are recorded at start;
	// the second stages and the gateways' own calls on their first request
	// (the warm-up).
	paths := []string{"/identity/.well-known/jwks.json"}
	for _, sh := range shapes {
		for _, c := range sh.first {
			paths = append(paths, c.path)
		}
	}
	for _, p := range paths {
		path, query, _ := strings.Cut(p, "?")
		req := httptest.NewRequest(http.MethodGet, p, nil)
		rp := u.record(req, path)
		if rp.status != http.StatusOK {
			return nil, fmt.Errorf("the fakes answer GET %s with %d: %s", p, rp.status, rp.body)
		}
		u.replays[path+"?"+query] = rp
	}
	return u, nil
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__bench/token" {
		u.token(w, r)
		return
	}
	path, delay, err := splitDelay(r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if r.Method != http.MethodGet {
		http.Error(w, "the bench upstream answers GETs only", http.StatusMethodNotAllowed)
		return
	}
	key := path + "?" + r.URL.RawQuery
	u.mu.RLock()
	rp, ok := u.replays[key]
	u.mu.RUnlock()
	if !ok {
		rp = u.record(r, path)
		kept := false
		if rp.status < 300 {
			u.mu.Lock()
			if _, dup := u.replays[key]; !dup && len(u.replays) < maxReplays {
				u.replays[key], kept = rp, true
			}
			u.mu.Unlock()
		}
		if u.log != nil && (kept || rp.status >= 300) {
			_, _ = fmt.Fprintf(u.log, "recorded GET %s: %d, %d bytes\n", key, rp.status, len(rp.body))
		}
	}
	w.Header().Set("Content-Type", rp.contentType)
	w.WriteHeader(rp.status)
	_, _ = w.Write(rp.body)
}

// record asks the fakes, carrying the identity headers some services read.
func (u *upstream) record(r *http.Request, path string) replay {
	req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, path+"?"+r.URL.RawQuery, nil)
	req.Header = r.Header.Clone()
	rec := httptest.NewRecorder()
	u.f.Handler().ServeHTTP(rec, req)
	return replay{status: rec.Code, contentType: rec.Header().Get("Content-Type"), body: bytes.Clone(rec.Body.Bytes())}
}

// token mints a token the gateways accept: GET /__bench/token?client=mobile&sub=u-001
// (client mobile or web: a user's password-grant token) or
// ?partner=acme&scope=... (client credentials).
func (u *upstream) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var claims map[string]any
	switch {
	case q.Get("partner") != "":
		claims = u.f.PartnerClaims(q.Get("partner"), strings.Fields(q.Get("scope"))...)
	case q.Get("client") == "mobile" || q.Get("client") == "web":
		if q.Get("sub") == "" {
			http.Error(w, "sub is required", http.StatusBadRequest)
			return
		}
		claims = u.f.UserClaims(q.Get("sub"), q.Get("client"))
	default:
		http.Error(w, "client (mobile, web) or partner is required", http.StatusBadRequest)
		return
	}
	tok, err := u.f.MintToken(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// splitDelay takes the optional /d/<duration> prefix off path.
func splitDelay(path string) (string, time.Duration, error) {
	rest, ok := strings.CutPrefix(path, "/d/")
	if !ok {
		return path, 0, nil
	}
	raw, tail, _ := strings.Cut(rest, "/")
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 || d > maxDelay {
		return "", 0, fmt.Errorf("delay %q: want a duration from 0 to %s", raw, maxDelay)
	}
	return "/" + tail, d, nil
}

func runUpstream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := newUpstream()
	if err != nil {
		return err
	}
	u.log = os.Stderr
	return serve(ctx, *addr, u)
}
