package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/shared/edge/config"
)

func TestEnvReader(t *testing.T) {
	t.Parallel()
	type out struct {
		b    bool
		n    int
		d    time.Duration
		list []string
		one  string
	}
	read := func(env map[string]string) (out, error) {
		o := out{n: 7, d: time.Second, one: "info"}
		e := config.NewEnv(config.MapLookup(env))
		e.Bool("B", &o.b)
		e.Int("N", &o.n)
		e.Duration("D", &o.d)
		e.List("L", &o.list)
		e.OneOf("O", &o.one, "debug", "info")
		return o, e.Err()
	}
	tests := []struct {
		name   string
		given  map[string]string
		expect out
		err    string
	}{
		{name: "ok, unset keeps defaults", expect: out{n: 7, d: time.Second, one: "info"}},
		{name: "ok, values parse", given: map[string]string{"B": "TRUE", "N": "42", "D": "250ms", "L": " a, ,b ,", "O": "Debug"},
			expect: out{b: true, n: 42, d: 250 * time.Millisecond, list: []string{"a", "b"}, one: "debug"}},
		{name: "nok, bad bool keeps default", given: map[string]string{"B": "yes please"}, expect: out{n: 7, d: time.Second, one: "info"},
			err: `B: "yes please" is not a boolean (true or false)`},
		{name: "nok, negative int", given: map[string]string{"N": "-1"}, expect: out{n: 7, d: time.Second, one: "info"},
			err: `N: "-1" is not a non-negative integer`},
		{name: "nok, negative duration", given: map[string]string{"D": "-2s"}, expect: out{n: 7, d: time.Second, one: "info"},
			err: `D: "-2s" is not a duration such as 500ms or 2s`},
		{name: "nok, every bad variable is reported", given: map[string]string{"N": "x", "O": "trace"}, expect: out{n: 7, d: time.Second, one: "info"},
			err: "N: \"x\" is not a non-negative integer\nO: \"trace\" is not one of debug, info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := read(tt.given)
			assert.Equal(t, tt.expect, got)
			if tt.err == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tt.err)
			}
		})
	}
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{":8081", true}, {"127.0.0.1:0", true}, {"[::1]:443", true}, {"gateway.internal:8080", true},
		{"nonsense", false}, {":", false}, {"host:-1", false}, {"host:65536", false}, {"bad_host!:80", false},
	} {
		err := config.CheckAddr(tt.addr)
		assert.Equal(t, tt.ok, err == nil, "%q: %v", tt.addr, err)
	}
}
