//go:build cluster || clustercheck

package cluster_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/deploy/internal/binaries"
	"github.com/shopfront/shared/edge/routing"
)

const (
	// devPartnerKey is the documented development key of partner acme
	// (deploy/dev/partner-keys.yaml): every scope.
	devPartnerKey = "sf_dev_acme_3vQ8kT2mW9xR4pLz"
	// devBurst is that partner's burst.
	devBurst = 20
)

// running is a cluster started by make run-cluster, read from the state
// file run.sh writes (tmp/cluster.env at the root of the repository, or
// CLUSTER_ENV).
type running map[string]string

// readCluster reads the state file at path; "" is CLUSTER_ENV, else the
// one make run-cluster writes.
func readCluster(t *testing.T, path string) running {
	t.Helper()
	if path == "" {
		path = os.Getenv("CLUSTER_ENV")
	}
	if path == "" {
		path = filepath.Join("..", "..", "tmp", "cluster.env")
	}
	f, err := os.Open(path)
	require.NoError(t, err, "no running cluster: start make run-cluster first (it writes %s)", path)
	defer f.Close()
	r := running{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			r[k] = v
		}
	}
	require.NoError(t, sc.Err())
	return r
}

// nginx is a gateway's client URL; instance one of its instances' (1 or 2).
func (r running) nginx(g string) string { return "http://" + r["CLUSTER_"+strings.ToUpper(g)] }
func (r running) instance(g string, n int) string {
	return "http://" + r[fmt.Sprintf("CLUSTER_%s_%d", strings.ToUpper(g), n)]
}
func (r running) admin(g string, n int) string {
	return "http://" + r[fmt.Sprintf("CLUSTER_%s_%d_ADMIN", strings.ToUpper(g), n)]
}
func (r running) pid(t *testing.T, g string, n int) int {
	p, err := strconv.Atoi(r[fmt.Sprintf("CLUSTER_%s_%d_PID", strings.ToUpper(g), n)])
	require.NoError(t, err)
	return p
}

var checkClient = &http.Client{Timeout: 10 * time.Second}

// send makes one request and returns the answer with its body read.
func send(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if body == nil {
		req.Body = nil
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := checkClient.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NoError(t, err)
	return res, b
}

// checkAll makes every point of make cluster-check on the cluster c.
func checkAll(t *testing.T, c running) {
	t.Run("a partner's burst is enforced once across both instances", func(t *testing.T) { checkBurst(t, c) })
	t.Run("an idempotent order replays through the other instance", func(t *testing.T) { checkIdempotency(t, c) })
	t.Run("the web cache fills once and hits on both instances", func(t *testing.T) { checkCache(t, c) })
	t.Run("a tus upload takes its chunks through both instances", func(t *testing.T) { checkUpload(t, c) })
	t.Run("a canary ramp reloaded on both instances agrees per user", func(t *testing.T) { checkCanary(t, c) })
}

func checkBurst(t *testing.T, c running) {
	key := map[string]string{"X-API-Key": devPartnerKey}
	// Through nginx first: the answer says how much of the burst is left;
	// wait until the bucket is full again (100 a minute refill it).
	res, _ := send(t, http.MethodGet, c.nginx("partner")+"/v2/products/p-0001", nil, key)
	left, err := strconv.Atoi(res.Header.Get("X-RateLimit-Remaining"))
	require.NoError(t, err, "X-RateLimit-Remaining %q (status %d)", res.Header.Get("X-RateLimit-Remaining"), res.StatusCode)
	time.Sleep(time.Duration(devBurst-left)*600*time.Millisecond + time.Second)

	// Twice the burst at once, half to each instance's own port.
	var mu sync.Mutex
	ok := map[int]int{}
	limited := map[int]int{}
	var wg sync.WaitGroup
	began := time.Now()
	for i := range 2 * devBurst {
		n := i%2 + 1
		wg.Go(func() {
			res, _ := send(t, http.MethodGet, c.instance("partner", n)+"/v2/products/p-0001", nil, key)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case res.StatusCode < 300:
				ok[n]++
			case res.StatusCode == http.StatusTooManyRequests:
				limited[n]++
			default:
				t.Errorf("partner-%d answered %d", n, res.StatusCode)
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	// The bucket refills 100 a minute: whatever came back while the
	// requests were sent may pass as well.
	refill := int(took.Seconds() * 100 / 60)
	total := ok[1] + ok[2]
	fmt.Printf("burst: %d requests in %s, half to each instance: 2xx %d + %d = %d (burst %d), 429 %d + %d\n",
		2*devBurst, took.Round(time.Millisecond), ok[1], ok[2], total, devBurst, limited[1], limited[2])
	assert.GreaterOrEqual(t, total, devBurst, "the whole burst passes")
	assert.LessOrEqual(t, total, devBurst+refill, "no more than one burst passes across both instances")
	assert.Positive(t, limited[1], "partner-1 limits once the shared burst is spent")
	assert.Positive(t, limited[2], "partner-2 limits once the shared burst is spent")
}

func checkIdempotency(t *testing.T, c running) {
	body := []byte(`{"items":[{"productId":"p-0002","quantity":2}],"currency":"USD"}`)
	hdr := map[string]string{"X-API-Key": devPartnerKey, "Content-Type": "application/json", "Idempotency-Key": "cluster-check-" + rand.Text()}
	first, firstBody := sendUnlimited(t, http.MethodPost, c.nginx("partner")+"/v2/orders", body, hdr)
	require.Equal(t, http.StatusCreated, first.StatusCode, "%s", firstBody)
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))
	for n := 1; n <= 2; n++ {
		res, b := sendUnlimited(t, http.MethodPost, c.instance("partner", n)+"/v2/orders", body, hdr)
		assert.Equal(t, http.StatusCreated, res.StatusCode, "partner-%d: %s", n, b)
		assert.Equal(t, "true", res.Header.Get("Idempotent-Replayed"), "partner-%d", n)
		assert.JSONEq(t, string(firstBody), string(b), "partner-%d answers the first order again", n)
	}
	fmt.Println("idempotency: one order through nginx, replayed by partner-1 and partner-2 with Idempotent-Replayed: true and the same body")
}

// sendUnlimited sends a partner request, waiting out the rate limit the
// burst check may have left spent.
func sendUnlimited(t *testing.T, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	for range 30 {
		res, b := send(t, method, url, body, hdr)
		if res.StatusCode != http.StatusTooManyRequests {
			return res, b
		}
		wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		time.Sleep(time.Duration(max(wait, 1)) * time.Second)
	}
	t.Fatalf("%s %s: still rate limited", method, url)
	return nil, nil
}

func checkCache(t *testing.T, c running) {
	// A query no one asked before, so the first answer is a miss.
	path := "/v1/catalog?q=" + url.QueryEscape("cluster check "+rand.Text())
	first, firstBody := send(t, http.MethodGet, c.nginx("web")+path, nil, nil)
	require.Equal(t, http.StatusOK, first.StatusCode, "%s", firstBody)
	assert.Equal(t, "MISS", first.Header.Get("X-Cache"))
	for n := 1; n <= 2; n++ {
		res, b := send(t, http.MethodGet, c.instance("web", n)+path, nil, nil)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "HIT", res.Header.Get("X-Cache"), "web-%d", n)
		assert.Contains(t, res.Header.Get("Cache-Status"), "hit", "web-%d", n)
		assert.Equal(t, string(firstBody), string(b), "web-%d serves the cached page", n)
	}
	fmt.Println("cache: filled once through nginx (MISS), then X-Cache: HIT on web-1 and web-2 with the same body")
}

func checkUpload(t *testing.T, c running) {
	token := binaries.PasswordToken(t, c["CLUSTER_FAKES"], "alice", "mobile")
	auth := func(extra map[string]string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + token, "Tus-Resumable": "1.0.0"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	// Three chunks of 600 KiB, 600 KiB and 100 KiB: one through each
	// instance's own port, the last through nginx.
	data := make([]byte, 1300<<10)
	_, _ = rand.Read(data)
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("cluster.jpg")) +
		",contentType " + base64.StdEncoding.EncodeToString([]byte("image/jpeg"))
	res, b := send(t, http.MethodPost, c.nginx("mobile")+"/v1/uploads", nil,
		auth(map[string]string{"Upload-Length": strconv.Itoa(len(data)), "Upload-Metadata": meta}))
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", b)
	loc := res.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/v1/uploads/"), loc)
	id := strings.TrimPrefix(loc, "/v1/uploads/")

	targets := []struct{ name, base string }{
		{"mobile-1", c.instance("mobile", 1)}, {"mobile-2", c.instance("mobile", 2)}, {"nginx", c.nginx("mobile")},
	}
	cuts := []int{0, 600 << 10, 1200 << 10, len(data)}
	for i, tg := range targets {
		chunk := data[cuts[i]:cuts[i+1]]
		// The offset comes from the instance that did not take the last
		// chunk: the upload's state lives in the media service.
		head, _ := send(t, http.MethodHead, c.instance("mobile", 2-i%2)+loc, nil, auth(nil))
		require.Equal(t, http.StatusOK, head.StatusCode)
		require.Equal(t, strconv.Itoa(cuts[i]), head.Header.Get("Upload-Offset"), "offset before chunk %d", i+1)
		sum := sha256.Sum256(chunk)
		res, b := send(t, http.MethodPatch, tg.base+loc, chunk, auth(map[string]string{
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(cuts[i]),
			"Upload-Checksum": "sha256 " + base64.StdEncoding.EncodeToString(sum[:]),
		}))
		require.Equal(t, http.StatusNoContent, res.StatusCode, "chunk %d through %s: %s", i+1, tg.name, b)
		require.Equal(t, strconv.Itoa(cuts[i+1]), res.Header.Get("Upload-Offset"))
	}
	res, b = send(t, http.MethodGet, c.nginx("mobile")+loc, nil, auth(nil))
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
	var status struct {
		Complete bool  `json:"complete"`
		Offset   int64 `json:"offset"`
	}
	require.NoError(t, json.Unmarshal(b, &status))
	assert.True(t, status.Complete)
	res, stored := send(t, http.MethodGet, c["CLUSTER_FAKES"]+"/__uploads/"+id+"/data", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.True(t, bytes.Equal(data, stored), "the media service holds the bytes sent (%d of %d)", len(stored), len(data))
	fmt.Printf("upload: %d bytes in 3 chunks through mobile-1, mobile-2 and nginx; complete, media service holds identical bytes\n", len(data))
}

func checkCanary(t *testing.T, c running) {
	path := c["CLUSTER_ROUTING_FILE"]
	original, err := os.ReadFile(path)
	require.NoError(t, err)
	mobile := [2]int{c.pid(t, "mobile", 1), c.pid(t, "mobile", 2)}
	reload := func() {
		for _, p := range mobile {
			require.NoError(t, syscall.Kill(p, syscall.SIGHUP))
		}
	}

	// The canary is a counting proxy in front of the fakes' catalog: the
	// requests are sent one at a time, so a call it sees is the last
	// request's, which the gateway's clients are never told.
	target, err := url.Parse(c["CLUSTER_FAKES"])
	require.NoError(t, err)
	var mu sync.Mutex
	seen := 0
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	canary := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	canary.Listener = ln
	canary.Start()
	t.Cleanup(canary.Close)
	t.Cleanup(func() {
		require.NoError(t, os.WriteFile(path, original, 0o600))
		reload()
	})

	ramp := fmt.Sprintf("routing:\n  catalog:\n    sticky: user\n    variants:\n"+
		"      - {name: stable, weight: 50}\n      - {name: canary, weight: 50, url: %q}\n", canary.URL+"/catalog")
	require.NoError(t, os.WriteFile(path, []byte(ramp), 0o600))
	reload()
	for n := 1; n <= 2; n++ {
		require.Eventually(t, func() bool {
			res, b := send(t, http.MethodGet, c.admin("mobile", n)+"/routing", nil, nil)
			var v routing.View
			if res.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil {
				return false
			}
			vs := v.Services["catalog"].Variants
			return len(vs) == 2 && vs[1].Weight == 50
		}, 10*time.Second, 100*time.Millisecond, "mobile-%d reloads the ramp", n)
	}

	// onCanary says whether one request with token through base reached
	// the canary.
	onCanary := func(base, token string) bool {
		mu.Lock()
		before := seen
		mu.Unlock()
		res, b := send(t, http.MethodGet, base+"/v1/products/p-0001", nil, map[string]string{"Authorization": "Bearer " + token})
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
		mu.Lock()
		defer mu.Unlock()
		return seen > before
	}
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}
	var onIt []string
	for _, u := range users {
		token := binaries.PasswordToken(t, c["CLUSTER_FAKES"], u, "mobile")
		via := onCanary(c.nginx("mobile"), token)
		one, two := onCanary(c.instance("mobile", 1), token), onCanary(c.instance("mobile", 2), token)
		assert.True(t, via == one && one == two, "%s: canary through nginx %t, mobile-1 %t, mobile-2 %t", u, via, one, two)
		if via {
			onIt = append(onIt, u)
		}
	}
	assert.NotEmpty(t, onIt, "some users are on the canary at 50 %")
	assert.Less(t, len(onIt), len(users), "some users stay on stable at 50 %")
	fmt.Printf("canary: ramp to 50 %% written and reloaded by SIGHUP on mobile-1 and mobile-2; %d of %d users on canary (%s), each the same through nginx, mobile-1 and mobile-2\n",
		len(onIt), len(users), strings.Join(onIt, ", "))
}
