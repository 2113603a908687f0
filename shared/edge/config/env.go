// Package config loads a gateway's configuration: built-in defaults, then the
// optional YAML file named by BFF_CONFIG, then the environment, then
// validation. Every problem is collected and reported as one line
// naming the variable, so an operator fixes them all in one go.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopfront/shared/edge/redisurl"
)

// Lookup reads one environment variable; os.LookupEnv in main, a map in tests.
type Lookup func(name string) (string, bool)

// MapLookup returns a Lookup over m, for tests and tools.
func MapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// Env is a typed environment reader. Each method reads one variable into dst
// when the variable is set and non-empty, and leaves dst alone otherwise (an
// empty value means "use the default", as with `BFF_X=` in a compose file).
// A value that does not parse leaves dst unchanged and records one error
// naming the variable; Err returns them all.
type Env struct {
	lookup Lookup
	errs   []error
}

// NewEnv returns a reader over lookup.
func NewEnv(lookup Lookup) *Env { return &Env{lookup: lookup} }

// Err returns every error recorded so far, joined, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Fail records an error about the variable name, for checks a caller does
// itself.
func (e *Env) Fail(name, format string, args ...any) {
	e.errs = append(e.errs, Errorf(name, format, args...))
}

// Errorf returns the one-line error "NAME: problem".
func Errorf(name, format string, args ...any) error {
	return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
}

func (e *Env) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

// String reads a string.
func (e *Env) String(name string, dst *string) {
	if v, ok := e.get(name); ok {
		*dst = v
	}
}

// OneOf reads a string that must be one of allowed (compared case-insensitively,
// stored as written in allowed).
func (e *Env) OneOf(name string, dst *string, allowed ...string) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			*dst = a
			return
		}
	}
	e.Fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// Bool reads a boolean (1, t, true, 0, f, false, any case).
func (e *Env) Bool(name string, dst *bool) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.Fail(name, "%q is not a boolean (true or false)", v)
		return
	}
	*dst = b
}

// Int reads a non-negative integer.
func (e *Env) Int(name string, dst *int) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		e.Fail(name, "%q is not a non-negative integer", v)
		return
	}
	*dst = n
}

// Duration reads a non-negative Go duration such as 250ms or 2s.
func (e *Env) Duration(name string, dst *time.Duration) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.Fail(name, "%q is not a duration such as 500ms or 2s", v)
		return
	}
	*dst = d
}

// URL reads an absolute http or https URL (see ParseHTTPURL) and stores it
// without a trailing slash.
func (e *Env) URL(name string, dst *string) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	u, err := ParseHTTPURL(v)
	if err != nil {
		e.Fail(name, "%q %v", v, err)
		return
	}
	*dst = u
}

// Addr reads a listen address host:port (see CheckAddr).
func (e *Env) Addr(name string, dst *string) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	if err := CheckAddr(v); err != nil {
		e.Fail(name, "%q %v", v, err)
		return
	}
	*dst = v
}

// CIDRs reads a comma-separated list of CIDRs; a bare IP means that one
// address (/32 or /128).
func (e *Env) CIDRs(name string, dst *[]netip.Prefix) {
	v, ok := e.get(name)
	if !ok {
		return
	}
	out, err := ParseCIDRs(splitList(v))
	if err != nil {
		e.Fail(name, "%v", err)
		return
	}
	*dst = out
}

// List reads a comma-separated list, trimming spaces and dropping empty items.
func (e *Env) List(name string, dst *[]string) {
	if v, ok := e.get(name); ok {
		*dst = splitList(v)
	}
}

func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ParseHTTPURL checks that raw is an absolute http or https URL with a host
// and nothing after the path (no query, fragment or credentials), and returns
// it without a trailing slash so callers can append paths. The error reads
// well after the quoted value: `"::bad" is not an absolute http(s) URL`.
func ParseHTTPURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Opaque != "":
		return "", errors.New("is not an absolute http(s) URL")
	case u.User != nil:
		return "", errors.New("must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, " \t#?"):
		return "", errors.New("must not have a query or fragment")
	}
	if err := checkPort(u.Port()); u.Port() != "" && err != nil {
		return "", err
	}
	return strings.TrimRight(raw, "/"), nil
}

// ParseRedisURL checks that raw names a Redis the gateway can use: one
// server (redis://host:port/db), Sentinel (redis-sentinel://...) or Redis
// Cluster (redis-cluster://...), each also with TLS (rediss...). See the
// redisurl package for the forms.
func ParseRedisURL(raw string) error {
	_, _, err := redisurl.Parse(raw)
	return err
}

// CheckAddr checks a listen address: host:port where host is empty, an IP or
// a host name and port is 0-65535.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not a host:port address")
	}
	if err := checkPort(port); err != nil {
		return err
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return errors.New("has an invalid host")
	}
	return nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("has a port outside 0-65535")
	}
	return nil
}

// validHostname accepts RFC 1123 names: dot-separated labels of letters,
// digits and hyphens.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// ParseCIDRs parses CIDRs; a bare IP means that one address.
func ParseCIDRs(items []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(items))
	var bad []string
	for _, item := range items {
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, strconv.Quote(item))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s %s not a CIDR (e.g. 10.0.0.0/8)", strings.Join(bad, ", "),
			map[bool]string{true: "is", false: "are"}[len(bad) == 1])
	}
	return slices.Clip(out), nil
}
