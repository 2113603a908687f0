package readiness_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/readiness"
)

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errors.New("down") }

// stuck ignores its context, as a badly written check might.
func stuck(context.Context) error { time.Sleep(time.Hour); return nil }

func TestCheck(t *testing.T) {
	t.Parallel()
	type given struct {
		name     string
		required bool
		fn       readiness.CheckFunc
	}
	tests := []struct {
		name     string
		given    []given
		draining bool
		status   string
		code     int
	}{
		{name: "ok, no checks", status: "ready", code: 200},
		{name: "ok, required passing", given: []given{{"jwks", true, ok}}, status: "ready", code: 200},
		{name: "ok, optional failing alone", given: []given{{"jwks", true, ok}, {"redis", false, fail}}, status: "ready", code: 200},
		{name: "nok, required failing", given: []given{{"jwks", true, fail}, {"redis", false, ok}}, status: "not_ready", code: 503},
		{name: "nok, required stuck past the timeout", given: []given{{"slow", true, stuck}}, status: "not_ready", code: 503},
		{name: "nok, draining beats passing checks", given: []given{{"jwks", true, ok}}, draining: true, status: "draining", code: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := readiness.New(50 * time.Millisecond)
			for _, g := range tt.given {
				c.Add(g.name, g.required, g.fn)
			}
			if tt.draining {
				c.SetDraining()
			}
			srv := httptest.NewServer(c)
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			var rep readiness.Report
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Equal(t, tt.status, rep.Status)
			assert.Len(t, rep.Checks, len(tt.given))
			for _, g := range tt.given {
				assert.Equal(t, g.required, rep.Checks[g.name].Required)
			}
		})
	}
}

func TestStuckCheckHoldsOneGoroutineWhateverTheProbes(t *testing.T) {
	t.Parallel()
	var started atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c := readiness.New(10 * time.Millisecond)
	c.Add("hung", true, func(context.Context) error {
		started.Add(1)
		<-release // Ignores its context, as a badly written check might.
		return nil
	})

	for range 20 {
		rep := c.Check(context.Background())
		assert.Equal(t, readiness.StatusNotReady, rep.Status)
		assert.Equal(t, readiness.CheckFailing, rep.Checks["hung"].Status)
	}

	assert.Equal(t, int32(1), started.Load(), "20 probes joined the one run in progress")
}

func TestCheckRunsAgainOnceTheRunEnded(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := readiness.New(time.Second)
	c.Add("redis", false, func(context.Context) error {
		if calls.Add(1) == 1 {
			return errors.New("down")
		}
		return nil
	})

	first := c.Check(context.Background())
	second := c.Check(context.Background())

	assert.Equal(t, readiness.CheckFailing, first.Checks["redis"].Status)
	assert.Equal(t, readiness.CheckOK, second.Checks["redis"].Status, "a finished run's answer is not kept")
	assert.Equal(t, int32(2), calls.Load())
}

func TestAddReplaces(t *testing.T) {
	t.Parallel()
	c := readiness.New(0)
	c.Add("jwks", true, fail)
	c.Add("jwks", true, ok)
	rep := c.Check(context.Background())
	assert.True(t, rep.Ready())
	assert.Len(t, rep.Checks, 1)
}
