package gatewaytest

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
)

// Target is a running gateway for Attacks, with the fakes behind it.
type Target struct {
	// Addr is the public listener, host:port. Required.
	Addr string
	// Fakes are the domain services the gateway calls. Required.
	Fakes *fakes.Fakes
	// Protected is a GET path that needs credentials and calls upstreams
	// once authenticated, such as /v1/home. Required.
	Protected string
	// Claims are the claims of a token the gateway accepts; forged tokens
	// are built from them. Required.
	Claims jwt.MapClaims
	// Auth adds valid credentials to a request. Required.
	Auth func(r *http.Request)
	// BodyPath is a POST route taking a JSON body whose "items" are order
	// lines; "" skips the body rows. Optional.
	BodyPath string
	// BodyHeaders are sent with every body row (Idempotency-Key, CSRF).
	// Optional.
	BodyHeaders map[string]string
	// TraversalPath is a GET route whose last segment is a path
	// parameter, without that segment ("/v1/products/"), and
	// TraversalStatus the status of a parameter that would walk upstream
	// paths (404, or 400 on partner); "" skips those rows. Optional.
	TraversalPath   string
	TraversalStatus int
}

// Attacks runs the attack corpus every gateway must withstand against the
// real listener of t: one row per attack, each checking the answer and
// that no domain service was called (identity's key set aside, which a
// gateway may fetch again for an unknown key id). Rows run one after
// another, as they count upstream calls.
func Attacks(t *testing.T, tg Target) {
	t.Helper()
	base := "http://" + tg.Addr
	segs := strings.Split(strings.TrimPrefix(tg.Protected, "/"), "/")
	first, rest := segs[0], strings.Join(segs[1:], "/")
	forged := forgedTokens(t, tg)

	type row struct {
		name   string
		method string
		path   string
		auth   bool
		token  string
		header map[string]string
		body   string
		// status is the expected status; 0 accepts any 4xx.
		status int
		code   string
		// upstream says the request may reach the services (spoofing rows).
		upstream bool
	}
	rows := []row{
		{name: "no credentials", method: http.MethodGet, path: tg.Protected, status: http.StatusUnauthorized},
		{name: "path with a leading double slash", method: http.MethodGet, path: "/" + tg.Protected},
		{name: "path with a trailing slash", method: http.MethodGet, path: tg.Protected + "/"},
		{name: "path with a dot segment", method: http.MethodGet, path: "/" + first + "/./" + rest},
		{name: "path with an upper-case segment", method: http.MethodGet, path: "/" + strings.ToUpper(first) + "/" + rest},
		{name: "path with an encoded dot-dot", method: http.MethodGet, path: "/" + first + "/x/%2e%2e/" + rest},
		{name: "path with an encoded slash", method: http.MethodGet, path: "/" + first + "%2F" + rest},
		{name: "path with a backslash", method: http.MethodGet, path: "/" + first + "%5C" + rest},
		{name: "TRACE", method: http.MethodTrace, path: tg.Protected, auth: true, status: http.StatusMethodNotAllowed, code: "method_not_allowed"},
		{name: "spoofed identity headers", method: http.MethodGet, path: tg.Protected, auth: true, status: http.StatusOK, upstream: true,
			header: map[string]string{
				"X-User-Id": "attacker", "x-user-roles": "admin", "X-TENANT-ID": "attacker", "X-Partner-Id": "attacker",
				"X-Client": "attacker", "X_User_Id": "attacker", "X-Forwarded-User": "attacker", "X-Remote-User": "attacker",
				"X-Auth-Request-User": "attacker", "X-Original-User": "attacker", "Forwarded": "for=attacker;by=attacker",
				"X-HTTP-Method-Override": "DELETE",
			}},
	}
	for _, name := range []string{"alg none", "HMAC keyed with the public key", "kid with a path", "kid with SQL", "huge kid", "huge token", "garbage"} {
		rows = append(rows, row{name: "token: " + name, method: http.MethodGet, path: tg.Protected, token: forged[name],
			status: http.StatusUnauthorized, code: "invalid_token"})
	}
	if tg.TraversalPath != "" {
		for _, p := range []string{".", "..", "%2e%2e", "%2E", "..%2F..%2Fadmin", "a%2Fb", "a%5Cb"} {
			rows = append(rows, row{name: "path parameter " + p, method: http.MethodGet, path: tg.TraversalPath + p, auth: true, status: tg.TraversalStatus})
		}
	}
	if tg.BodyPath != "" {
		line := `{"productId":"p-0001","quantity":%s}`
		order := func(q string) string {
			return `{"items":[` + strings.Replace(line, "%s", q, 1) + `],"currency":"USD"}`
		}
		many := make([]string, 101)
		for i := range many {
			many[i] = strings.Replace(line, "%s", "1", 1)
		}
		bodyRow := func(name, body string, hdr map[string]string, status int, code string) row {
			h := maps.Clone(tg.BodyHeaders)
			if h == nil {
				h = map[string]string{}
			}
			h["Content-Type"] = "application/json"
			maps.Copy(h, hdr)
			return row{name: name, method: http.MethodPost, path: tg.BodyPath, auth: true, header: h, body: body, status: status, code: code}
		}
		rows = append(rows,
			bodyRow("body: huge exponent", order("1e999999"), nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: fraction", order("1.5"), nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: 21 digits", order("123456789012345678901"), nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: duplicate member", `{"currency":"USD","currency":"EUR","items":[`+strings.Replace(line, "%s", "1", 1)+`]}`, nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: deep nesting", `{"items":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`, nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: invalid UTF-8", "{\"currency\":\"\xff\xfe\",\"items\":["+strings.Replace(line, "%s", "1", 1)+"]}", nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: too many lines", `{"items":[`+strings.Join(many, ",")+`],"currency":"USD"}`, nil, http.StatusBadRequest, "validation_failed"),
			bodyRow("body: gzip coded", order("1"), map[string]string{"Content-Encoding": "gzip"}, http.StatusUnsupportedMediaType, "unsupported_media_type"),
		)
	}

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			tg.Fakes.ResetStats()
			var body io.Reader
			if r.body != "" {
				body = strings.NewReader(r.body)
			}
			req, err := http.NewRequest(r.method, base+r.path, body)
			require.NoError(t, err)
			if r.auth {
				tg.Auth(req)
			}
			if r.token != "" {
				req.Header.Set("Authorization", "Bearer "+r.token)
			}
			for k, v := range r.header {
				req.Header[k] = []string{v} // as spelled, not canonicalised
			}
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			switch r.status {
			case 0:
				assert.True(t, resp.StatusCode >= 400 && resp.StatusCode < 500, "a 4xx: %d %s", resp.StatusCode, raw)
			default:
				assert.Equal(t, r.status, resp.StatusCode, "%s", raw)
			}
			if r.code != "" {
				var p struct {
					Error string `json:"error"`
				}
				_ = json.Unmarshal(raw, &p)
				assert.Equal(t, r.code, p.Error, "%s", raw)
			}
			if r.upstream {
				for _, s := range domain.ServiceNames() {
					for k, vs := range tg.Fakes.LastHeaders(s) {
						for _, v := range vs {
							assert.NotContains(t, v, "attacker", "%s got %s: %s", s, k, v)
						}
					}
				}
				return
			}
			for s, n := range tg.Fakes.Stats() {
				if s != domain.ServiceIdentity {
					assert.Zero(t, n, "%s was called", s)
				}
			}
		})
	}

	t.Run("CONNECT", func(t *testing.T) {
		got := rawExchange(t, tg.Addr, "CONNECT "+tg.Addr+" HTTP/1.1\r\nHost: "+tg.Addr+"\r\nConnection: close\r\n\r\n")
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 405 "), "%q", got)
	})
	// Smuggling rows carry valid credentials, so that only the framing
	// check stands between the request and the domain services.
	authed := authHeaderLines(tg)
	for _, te := range []string{"chunked", "chunked ", "Chunked", "\tchunked"} {
		for _, order := range []string{"Content-Length first", "Transfer-Encoding first"} {
			t.Run("request smuggled behind Content-Length and Transfer-Encoding "+strings.TrimSpace(te)+", "+order, func(t *testing.T) {
				tg.Fakes.ResetStats()
				smuggled := "GET " + tg.Protected + " HTTP/1.1\r\nHost: x\r\n" + authed + "\r\n"
				cl := "Content-Length: " + itoa(len("0\r\n\r\n")+len(smuggled)) + "\r\n"
				tes := "Transfer-Encoding: " + te + "\r\n"
				framing := cl + tes
				if order != "Content-Length first" {
					framing = tes + cl
				}
				got := rawExchange(t, tg.Addr, "POST "+tg.Protected+" HTTP/1.1\r\nHost: x\r\n"+authed+framing+"\r\n0\r\n\r\n"+smuggled)
				assert.True(t, strings.HasPrefix(got, "HTTP/1.1 400 "), "%q", got)
				assert.Contains(t, got, `"error":"bad_request"`)
				assert.Equal(t, 1, strings.Count(got, "HTTP/1.1 "), "one answer, then the connection closed: %q", got)
				for s, n := range tg.Fakes.Stats() {
					if s != domain.ServiceIdentity {
						assert.Zero(t, n, "%s was called", s)
					}
				}
			})
		}
	}
	t.Run("request smuggled after a kept-alive request", func(t *testing.T) {
		tg.Fakes.ResetStats()
		good := "GET " + tg.Protected + " HTTP/1.1\r\nHost: x\r\n" + authed + "\r\n"
		got := rawExchange(t, tg.Addr, good+"POST "+tg.Protected+" HTTP/1.1\r\nHost: x\r\n"+authed+
			"Transfer-Encoding: chunked\r\nContent-Length: "+itoa(len("0\r\n\r\n")+len(good))+"\r\n\r\n0\r\n\r\n"+good)
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 200 "), "the request before is served: %q", got)
		assert.Equal(t, 2, strings.Count(got, "HTTP/1.1 "), "two answers, then the connection closed: %q", got)
		assert.Equal(t, 1, strings.Count(got, "HTTP/1.1 200 "), "the smuggled copy is not served: %q", got)
		assert.Contains(t, got, "HTTP/1.1 400 ")
	})
	t.Run("two Content-Lengths", func(t *testing.T) {
		got := rawExchange(t, tg.Addr, "GET "+tg.Protected+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"+
			"GET "+tg.Protected+" HTTP/1.1\r\nHost: x\r\n\r\n")
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 400 "), "%q", got)
		assert.Equal(t, 1, strings.Count(got, "HTTP/1.1 "), "%q", got)
	})
	t.Run("CR inside a header value", func(t *testing.T) {
		got := rawExchange(t, tg.Addr, "GET "+tg.Protected+" HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n")
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 400 "), "%q", got)
	})
}

// authHeaderLines renders the credentials tg.Auth adds as raw header
// lines.
func authHeaderLines(tg Target) string {
	r, _ := http.NewRequest(http.MethodGet, "http://"+tg.Addr+tg.Protected, nil)
	tg.Auth(r)
	var b strings.Builder
	for k, vs := range r.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	return b.String()
}

// rawExchange writes raw on a new connection and returns all the gateway
// sent until it closed the connection.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	got, err := io.ReadAll(bufio.NewReader(conn))
	require.NoError(t, err, "the gateway closes the connection (read %q)", got)
	return string(got)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// forgedTokens builds the tokens an attacker would try from valid claims:
// none is signed by the identity service's key.
func forgedTokens(t *testing.T, tg Target) map[string]string {
	t.Helper()
	enc := base64.RawURLEncoding
	part := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return enc.EncodeToString(b)
	}
	claims := part(tg.Claims)
	kid := tg.Fakes.KeyID()
	jwk, err := json.Marshal(tg.Fakes.JWKS().Keys[0])
	require.NoError(t, err)
	hs := func(key []byte) string {
		signing := part(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + claims
		m := hmac.New(sha256.New, key)
		m.Write([]byte(signing))
		return signing + "." + enc.EncodeToString(m.Sum(nil))
	}
	rs := func(kid string) string {
		return part(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + claims + "." + enc.EncodeToString([]byte("not a signature"))
	}
	huge := maps.Clone(tg.Claims)
	huge["pad"] = strings.Repeat("a", 9<<10)
	return map[string]string{
		"alg none":                       part(map[string]string{"alg": "none", "typ": "JWT"}) + "." + claims + ".",
		"HMAC keyed with the public key": hs(jwk),
		"kid with a path":                rs("../../../../dev/null"),
		"kid with SQL":                   rs("' OR '1'='1' --"),
		"huge kid":                       rs(strings.Repeat("k", 6<<10)),
		"huge token":                     part(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + part(huge) + ".c2ln",
		"garbage":                        "a.b.c",
	}
}
