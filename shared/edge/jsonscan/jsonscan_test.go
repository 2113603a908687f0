package jsonscan_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/shared/edge/jsonscan"
)

func TestCheck(t *testing.T) {
	deep := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	ok32 := strings.Repeat("[", 32) + strings.Repeat("]", 32)
	lines := func(n int, q string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = `{"productId":"p","quantity":` + q + `}`
		}
		return `{"items":[` + strings.Join(items, ",") + `],"currency":"USD"}`
	}
	caps := jsonscan.Limits{MaxItems: map[string]int{"/items": 100, "/groups/*/lines": 2}}
	tests := []struct {
		name   string
		body   string
		limits jsonscan.Limits
		want   []jsonscan.Problem
	}{
		{"valid order", lines(100, "99"), caps, nil},
		{"empty body", "", caps, nil},
		{"negative and 20 digits", `{"a":-12345678901234567890,"b":0}`, caps, nil},
		{"21 digits", `{"a":123456789012345678901}`, caps, []jsonscan.Problem{{"/a", "must have at most 20 digits"}}},
		{"exponent", `{"items":[{"quantity":1e999999}]}`, caps, []jsonscan.Problem{{"/items/0/quantity", "must be an integer"}}},
		{"capital exponent", `[1E2]`, caps, []jsonscan.Problem{{"/0", "must be an integer"}}},
		{"fraction", `{"q":[0,1.0]}`, caps, []jsonscan.Problem{{"/q/1", "must be an integer"}}},
		{"32 levels", ok32, caps, nil},
		{"33 levels", deep, caps, []jsonscan.Problem{{"/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0", "nests deeper than 32 levels"}}},
		{"duplicate member", `{"currency":"USD","currency":"EUR"}`, caps, []jsonscan.Problem{{"/currency", "is a duplicate member"}}},
		{"same name in sibling objects", `[{"a":1},{"a":1}]`, caps, nil},
		{"duplicate in a large object", `{"a0":0,"a1":0,"a2":0,"a3":0,"a4":0,"a5":0,"a6":0,"a7":0,"a8":0,"a9":0,"b0":0,"b1":0,"b2":0,"b3":0,"b4":0,"b5":0,"b6":0,"b7":0,"a3":1}`, caps,
			[]jsonscan.Problem{{"/a3", "is a duplicate member"}}},
		{"escaped names", `{"a/b":{"c~d":1.5}}`, caps, []jsonscan.Problem{{"/a~1b/c~0d", "must be an integer"}}},
		{"invalid UTF-8", "{\"currency\":\"\xff\"}", caps, []jsonscan.Problem{{"", "is not valid UTF-8"}}},
		{"syntax", `{"a":`, caps, []jsonscan.Problem{{"", "is not valid JSON"}}},
		{"array at its cap", lines(100, "1"), caps, nil},
		{"array over its cap", lines(101, "1"), caps, []jsonscan.Problem{{"/items", "must have at most 100 items"}}},
		{"cap by template", `{"groups":[{"lines":[1,2]},{"lines":[1,2,3]}]}`, caps, []jsonscan.Problem{{"/groups/1/lines", "must have at most 2 items"}}},
		{"other arrays uncapped", `{"other":[` + strings.TrimSuffix(strings.Repeat("1,", 500), ",") + `]}`, caps, nil},
		{"at most 20 problems", lines(100, "1.5"), caps, func() []jsonscan.Problem {
			var p []jsonscan.Problem
			for i := range 20 {
				p = append(p, jsonscan.Problem{Path: "/items/" + itoa(i) + "/quantity", Message: "must be an integer"})
			}
			return p
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, jsonscan.Check([]byte(tc.body), tc.limits))
		})
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// FuzzCheck holds the scan to its promises on any input: it never panics,
// never reports more than the cap, and never refuses a body it reads as
// plain integers, strings and shallow nesting.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"productId":"p-1","quantity":2}],"currency":"USD"}`,
		`{"a":1e999999}`, `[1.5]`, `{"a":1,"a":2}`, "\"\xff\"", strings.Repeat("[", 40),
		`{"items":[` + strings.Repeat(`1,`, 120) + `1]}`, `{"a~/b":-0}`, ``, `nul`,
	} {
		f.Add([]byte(s))
	}
	limits := jsonscan.Limits{MaxItems: map[string]int{"/items": 100}}
	f.Fuzz(func(t *testing.T, body []byte) {
		probs := jsonscan.Check(body, limits)
		if len(probs) > jsonscan.DefaultMaxProblems+1 {
			t.Fatalf("%d problems", len(probs))
		}
		for _, p := range probs {
			if p.Message == "" || (p.Path != "" && p.Path[0] != '/') {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}
