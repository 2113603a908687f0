// Package jsonscan checks a JSON request body in one bounded pass before
// anything expensive reads it. Schema libraries turn every number into an
// exact rational (1e999999 costs seconds of CPU) and decode whole arrays
// before counting them, so what a gateway body may never hold is refused
// here first, at a cost linear in the body and independent of its values:
// numbers with a fraction or an exponent or too many digits, nesting too
// deep, duplicate member names, invalid UTF-8, and arrays longer than
// their declared maximum. None of the gateways' request bodies carries a
// non-integer number.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Defaults of Limits.
const (
	DefaultMaxDepth    = 32
	DefaultMaxDigits   = 20
	DefaultMaxProblems = 20
)

// Limits bounds what a body may hold. The zero value applies the defaults
// and caps no array.
type Limits struct {
	// MaxDepth is the deepest nesting of arrays and objects. Optional.
	// Default DefaultMaxDepth.
	MaxDepth int
	// MaxDigits is the most digits a number may have. Optional. Default
	// DefaultMaxDigits.
	MaxDigits int
	// MaxProblems is the most problems reported; the scan stops there.
	// Optional. Default DefaultMaxProblems.
	MaxProblems int
	// MaxItems caps arrays by the JSON Pointer of the array, with "*" for
	// every array index on the way ("/items", "/groups/*/lines"). Optional.
	MaxItems map[string]int
}

// Problem is one thing the body may not hold.
type Problem struct {
	// Path is the JSON Pointer (RFC 6901) of the offending value, "" for
	// the whole body.
	Path string
	// Message says what is wrong without echoing the value.
	Message string
}

// frame is one open array or object.
type frame struct {
	object bool
	// key is the member name being read (objects) and expectKey whether the
	// next token is a name.
	key       string
	expectKey bool
	// count is the number of items (arrays) and max their cap, 0 for none.
	count, max int
	// names holds the member names seen so far; a map only once the object
	// is large, so the many small objects of a body cost no map each.
	names []string
	seen  map[string]struct{}
}

// smallObject is how many names an object holds before a map finds
// duplicates instead of a linear search.
const smallObject = 16

// Check scans body and returns its problems, at most l.MaxProblems, in
// document order. An empty body has none: whether a body is required is for
// the caller to say. A syntax error, nesting too deep or an array over its
// cap ends the scan, so nothing after it is looked at.
func Check(body []byte, l Limits) []Problem {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxDigits <= 0 {
		l.MaxDigits = DefaultMaxDigits
	}
	if l.MaxProblems <= 0 {
		l.MaxProblems = DefaultMaxProblems
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bytes silently.
		return []Problem{{Message: "is not valid UTF-8"}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		stack []frame
		out   []Problem
	)
	add := func(p Problem) bool {
		out = append(out, p)
		return len(out) < l.MaxProblems
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) && len(stack) == 0 {
			return out
		}
		if err != nil {
			return append(out, Problem{Message: "is not valid JSON"})
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if name, ok := tok.(string); ok {
				top.key, top.expectKey = name, false
				if top.duplicate(name) && !add(Problem{Path: pointer(stack), Message: "is a duplicate member"}) {
					return out
				}
				continue
			}
		}
		// tok is a value, or the end of an array or object.
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return out // one value read; trailing data is the decoder's to refuse.
			}
			stack[len(stack)-1].valueDone()
			continue
		}
		if top != nil && !top.object {
			top.count++
			if top.max > 0 && top.count > top.max {
				path := pointer(stack[:len(stack)-1])
				return append(out, Problem{Path: path, Message: fmt.Sprintf("must have at most %d items", top.max)})
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			if len(stack) >= l.MaxDepth {
				return append(out, Problem{Path: pointer(stack), Message: fmt.Sprintf("nests deeper than %d levels", l.MaxDepth)})
			}
			f := frame{object: v == '{', expectKey: v == '{'}
			if !f.object && len(l.MaxItems) > 0 {
				f.max = l.MaxItems[template(stack)]
			}
			stack = append(stack, f)
			continue
		case json.Number:
			if msg := numberProblem(string(v), l.MaxDigits); msg != "" && !add(Problem{Path: pointer(stack), Message: msg}) {
				return out
			}
		}
		if len(stack) == 0 {
			return out
		}
		stack[len(stack)-1].valueDone()
	}
}

// valueDone records that a member's value has been read.
func (f *frame) valueDone() {
	if f.object {
		f.expectKey = true
	}
}

func (f *frame) duplicate(name string) bool {
	if f.seen != nil {
		if _, ok := f.seen[name]; ok {
			return true
		}
		f.seen[name] = struct{}{}
		return false
	}
	for _, n := range f.names {
		if n == name {
			return true
		}
	}
	f.names = append(f.names, name)
	if len(f.names) > smallObject {
		f.seen = make(map[string]struct{}, 2*len(f.names))
		for _, n := range f.names {
			f.seen[n] = struct{}{}
		}
		f.names = nil
	}
	return false
}

// numberProblem says what is wrong with the JSON number n, "" if nothing.
func numberProblem(n string, maxDigits int) string {
	if strings.ContainsAny(n, ".eE") {
		return "must be an integer"
	}
	digits := len(strings.TrimPrefix(n, "-"))
	if digits > maxDigits {
		return fmt.Sprintf("must have at most %d digits", maxDigits)
	}
	return ""
}

// pointer is the JSON Pointer of the value being read inside stack.
func pointer(stack []frame) string {
	var b strings.Builder
	for i := range stack {
		b.WriteByte('/')
		if stack[i].object {
			b.WriteString(escape(stack[i].key))
		} else {
			// The item being read is the count-th, counted from 1.
			b.WriteString(strconv.Itoa(max(stack[i].count-1, 0)))
		}
	}
	return b.String()
}

// template is the pointer of the value being read with "*" for indices.
func template(stack []frame) string {
	var b strings.Builder
	for i := range stack {
		b.WriteByte('/')
		if stack[i].object {
			b.WriteString(escape(stack[i].key))
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

func escape(name string) string {
	if !strings.ContainsAny(name, "~/") {
		return name
	}
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}
