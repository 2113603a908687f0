package logging_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/logging"
)

// The secrets below must never show up in a log line.
const (
	bearer   = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
	apiKey   = "sk_live_4f9a8b7c6d5e"
	cookie   = "sf_session=eyJzZWNyZXQiOnRydWV9; sf_csrf=csrf-value-77"
	password = "hunter2-correct-horse"
	card     = "4111111111111111"
)

var secrets = []string{bearer, apiKey, "eyJzZWNyZXQiOnRydWV9", "csrf-value-77", password, card, "client-secret-99", "refresh-xyz"}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		level     string
		expectErr bool
		logged    []string // messages written at debug, info, warn, error
	}{
		{name: "ok, default is info", level: "", logged: []string{"i", "w", "e"}},
		{name: "ok, debug", level: "debug", logged: []string{"d", "i", "w", "e"}},
		{name: "ok, warn in upper case", level: "WARN", logged: []string{"w", "e"}},
		{name: "ok, error", level: "error", logged: []string{"e"}},
		{name: "nok, unknown level", level: "verbose", expectErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := logging.New(tt.level, &buf)
			if tt.expectErr {
				assert.ErrorContains(t, err, "verbose")
				return
			}
			require.NoError(t, err)
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			var msgs []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m struct {
					Msg        string          `json:"msg"`
					Time       string          `json:"time"`
					Level      string          `json:"level"`
					Stacktrace json.RawMessage `json:"stacktrace"`
				}
				require.NoError(t, json.Unmarshal([]byte(line), &m), line)
				msgs = append(msgs, m.Msg)
				ts, err := time.Parse(time.RFC3339Nano, m.Time)
				require.NoError(t, err)
				assert.WithinDuration(t, time.Now(), ts, time.Minute)
				assert.True(t, strings.HasSuffix(m.Time, "Z"), "UTC time")
				assert.NotEmpty(t, m.Level)
				assert.Nil(t, m.Stacktrace, "no stacktrace")
			}
			assert.Equal(t, tt.logged, msgs)
		})
	}
}

func TestNewDoesNotSample(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := logging.New("info", &buf)
	require.NoError(t, err)
	for i := 0; i < 500; i++ {
		log.Info("request", zap.Int("i", i))
	}
	assert.Equal(t, 500, strings.Count(buf.String(), "\n"))
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	u, err := url.Parse("https://user:" + password + "@api.shopfront.test/v1/x?token=" + bearer + "&q=1")
	require.NoError(t, err)
	got := logging.RedactURL(u)
	assert.Equal(t, "https://%5BREDACTED%5D@api.shopfront.test/v1/x?token=[REDACTED]&q=1", got)
	assert.Equal(t, "", logging.RedactURL(nil))
}

// TestFieldsNeverLeakSecrets logs a request's headers, URL and body through
// the helpers and greps the output for every secret.
func TestFieldsNeverLeakSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := logging.New("debug", &buf)
	require.NoError(t, err)

	h := http.Header{}
	h.Set("Authorization", "Bearer "+bearer)
	h.Set("Proxy-Authorization", "Basic "+apiKey)
	h.Set("Cookie", cookie)
	h.Add("Set-Cookie", cookie)
	h.Set("X-API-Key", apiKey)
	h.Set("X-CSRF-Token", "csrf-value-77")
	h["x-api-key"] = []string{apiKey} // not canonical, as a hand-built map may be
	h.Set("Accept", "application/json")
	u, err := url.Parse("/v1/search?q=shoes&access_token=" + bearer + "&client_secret=client-secret-99")
	require.NoError(t, err)
	body := []byte(`{"username":"alice","password":"` + password + `","card":{"cardNumber":"` + card + `"},"refresh_token":"refresh-xyz"}`)

	log.Info("request", logging.Headers("headers", h), logging.URL("url", u), logging.Body("body", body),
		logging.Body("form", []byte("password="+password)))
	out := buf.String()
	for _, s := range secrets {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, `"Accept":"application/json"`)
	assert.Contains(t, out, `"Authorization":"[REDACTED]"`)
	assert.Contains(t, out, `q=shoes`)
	assert.Contains(t, out, `"username":"alice"`)
	assert.Contains(t, out, `[non-JSON body omitted]`)

	red := logging.RedactHeaders(h)
	assert.Equal(t, "[REDACTED]", red.Get("Cookie"))
	assert.Equal(t, "application/json", red.Get("Accept"))
	assert.Equal(t, "Bearer "+bearer, h.Get("Authorization"), "the original is untouched")
}

// msgs returns the msg of every line written so far, in order.
func msgs(t *testing.T, b *edgetest.Buffer) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m struct {
			Msg string `json:"msg"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m.Msg)
	}
	return out
}

func TestConfigBuildHoldsBufferedLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// log writes through the process logger and its Buffered one.
		log func(log, access *zap.Logger)
		// expectNow is what is written before any flush interval passed.
		expectNow []string
		// expectLater is what is written once an interval passed.
		expectLater []string
	}{
		{name: "ok, access lines wait for the interval",
			log:       func(_, access *zap.Logger) { access.Info("a1"); access.Info("a2") },
			expectNow: nil, expectLater: []string{"a1", "a2"}},
		{name: "ok, any other line writes them first, in order",
			log:       func(log, access *zap.Logger) { access.Info("a1"); log.Info("serving"); access.Info("a2") },
			expectNow: []string{"a1", "serving"}, expectLater: []string{"a1", "serving", "a2"}},
		{name: "ok, an access warning is written at once",
			log:       func(_, access *zap.Logger) { access.Info("a1"); access.Warn("a502") },
			expectNow: []string{"a1", "a502"}, expectLater: []string{"a1", "a502"}},
		{name: "ok, a derived logger keeps waiting",
			log:       func(_, access *zap.Logger) { access.With(zap.String("k", "v")).Info("a1") },
			expectNow: nil, expectLater: []string{"a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var out edgetest.Buffer
				log, closeLog, err := logging.Config{Level: "info", Writer: &out, FlushInterval: time.Second}.Build()
				require.NoError(t, err)
				defer func() { require.NoError(t, closeLog()) }()
				tt.log(log, logging.Buffered(log))
				synctest.Wait()
				assert.Equal(t, tt.expectNow, msgs(t, &out), "before the interval")
				time.Sleep(time.Second + time.Millisecond)
				synctest.Wait()
				assert.Equal(t, tt.expectLater, msgs(t, &out), "after the interval")
			})
		})
	}
}

func TestConfigBuildCloseWritesWhatIsHeld(t *testing.T) {
	t.Parallel()
	var out edgetest.Buffer
	log, closeLog, err := logging.Config{Writer: &out, FlushInterval: time.Hour}.Build()
	require.NoError(t, err)
	access := logging.Buffered(log)
	for i := range 3 {
		access.Info("request", zap.Int("i", i))
	}
	assert.Empty(t, msgs(t, &out), "held")
	require.NoError(t, closeLog())
	assert.Equal(t, []string{"request", "request", "request"}, msgs(t, &out))
	_, ok := logging.LevelOf(access)
	assert.True(t, ok, "the level stays adjustable")
}

func TestConfigBuildWritesWhenTheBufferIsFull(t *testing.T) {
	t.Parallel()
	var out edgetest.Buffer
	log, closeLog, err := logging.Config{Writer: &out, FlushInterval: time.Hour, BufferSize: 1024}.Build()
	require.NoError(t, err)
	defer func() { require.NoError(t, closeLog()) }()
	access := logging.Buffered(log)
	for range 20 {
		access.Info("request", zap.String("pad", strings.Repeat("x", 100)))
	}
	n := len(msgs(t, &out))
	assert.Greater(t, n, 10, "whole lines written as the buffer fills")
	assert.Less(t, n, 20, "the last ones still held")
}

func TestNewWritesBufferedLinesAtOnce(t *testing.T) {
	t.Parallel()
	var out edgetest.Buffer
	log, err := logging.New("info", &out)
	require.NoError(t, err)
	logging.Buffered(log).Info("request")
	assert.Equal(t, []string{"request"}, msgs(t, &out))
}

func TestConfigBuildRefusesNegativeSettings(t *testing.T) {
	t.Parallel()
	_, _, err := logging.Config{FlushInterval: -time.Second}.Build()
	assert.ErrorContains(t, err, "FlushInterval")
	_, _, err = logging.Config{BufferSize: -1, FlushInterval: time.Second}.Build()
	assert.ErrorContains(t, err, "BufferSize")
}
