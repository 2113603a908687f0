package config

import (
	"encoding"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Variables returns, sorted, every environment variable c reads: BFF_CONFIG
// and each name its ReadEnv asks for. It is the list docs/configuration.md
// is checked against, taken from the code rather than kept beside it.
func Variables(c Loadable) []string {
	seen := map[string]bool{FileVar: true}
	c.ReadEnv(NewEnv(func(name string) (string, bool) {
		seen[name] = true
		return "", false
	}))
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	unmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// YAMLKeys returns, sorted, the dotted key of every setting a BFF_CONFIG
// file may hold for v (a configuration struct), from its yaml tags:
// "server.addr", "mobile.rate_limit.burst". Inline structs add their keys
// at their parent's level; a struct that decodes from one scalar (a time,
// an address) is one key.
func YAMLKeys(v any) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			ft := f.Type
			nested := ft.Kind() == reflect.Struct && ft != timeType && !reflect.PointerTo(ft).Implements(unmarshalType)
			if strings.Contains(","+opts+",", ",inline,") && nested {
				walk(ft, prefix)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if nested {
				walk(ft, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	walk(t, "")
	slices.Sort(out)
	return out
}
