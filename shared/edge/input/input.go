// Package input owns how the customer gateways read untrusted request
// input: strict JSON decoding into typed requests, path ids, currency
// codes and Idempotency-Keys, and the one shape of a bad-input answer
// (FieldError, Invalid: 400 validation_failed listing every problem).
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jsonscan"
	"github.com/shopfront/shared/edge/problem"
)

// Input limits of the cart and order routes. Every check answers 400
// validation_failed and changes nothing, before any upstream call.
const (
	// MaxIDLength is the longest path id (product, order).
	MaxIDLength = 128
	// MaxQuantity is the largest quantity of a cart or order line.
	MaxQuantity = 99
	// MaxOrderLines is the most lines one order may hold.
	MaxOrderLines = 100
	// MaxIdempotencyKey is the longest Idempotency-Key, in bytes.
	MaxIdempotencyKey = 255
)

var (
	// idPattern is what a path id may hold: the ids of the domain services
	// are short tokens, and anything else would only make an upstream 404
	// more expensive.
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Where a FieldError is, as in bff-partner's validation errors.
const (
	InBody   = "body"
	InQuery  = "query"
	InPath   = "path"
	InHeader = "header"
)

// FieldError is one problem of a request; validation_failed lists them
// under `errors`. It has the shape of bff-partner's, so that every gateway
// answers bad input alike.
type FieldError struct {
	// In is where the problem is: body, query, path or header.
	In string `json:"in"`
	// Path is a JSON Pointer (RFC 6901) into the body such as
	// /items/0/quantity ("" for the whole body), or the name of the
	// parameter or header.
	Path string `json:"path"`
	// Message says what is wrong, without echoing the value.
	Message string `json:"message"`
}

// BodyError returns the FieldError of the body member at the JSON Pointer
// ptr.
func BodyError(ptr, message string) FieldError {
	return FieldError{In: InBody, Path: ptr, Message: message}
}

// QueryError returns the FieldError of the query parameter name.
func QueryError(name, message string) FieldError {
	return FieldError{In: InQuery, Path: name, Message: message}
}

// Invalid returns the 400 validation_failed problem listing errs, each also
// summed up in the detail ("body /quantity: must be ..."). At most
// MaxFieldErrors are listed: a hostile request of many bad members gets a
// short answer.
func Invalid(errs ...FieldError) *problem.Problem {
	if len(errs) > MaxFieldErrors {
		errs = errs[:MaxFieldErrors]
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		where := strings.TrimSpace(e.In + " " + e.Path)
		msgs = append(msgs, where+": "+e.Message)
	}
	return problem.ValidationFailed(strings.Join(msgs, "; ")).With("errors", errs)
}

// ValidID reports whether id may be a domain id (product, order): a short
// token of URL-safe characters.
func ValidID(id string) bool { return idPattern.MatchString(id) && !TraversalSegment(id) }

// ValidCurrency reports whether s is shaped like an ISO 4217 code.
func ValidCurrency(s string) bool { return currencyPattern.MatchString(s) }

// TraversalSegment reports whether a path parameter would name another
// resource once put into an upstream URL: "." or "..", or one holding a
// path separator, as sent or once percent-decoded (echo hands parameters
// on as they were sent when the path holds escapes).
func TraversalSegment(v string) bool {
	walks := func(v string) bool { return v == "." || v == ".." || strings.ContainsAny(v, "/\\") }
	if walks(v) {
		return true
	}
	dec, err := url.PathUnescape(v)
	return err == nil && dec != v && walks(dec)
}

// PathID returns the path parameter name, checked to be an id of the
// domain services. A parameter that would walk the upstream's paths ("..",
// "a/b") is 404 not_found, as no resource has such an id.
func PathID(c echo.Context, name string) (string, error) {
	id := c.Param(name)
	if TraversalSegment(id) {
		return "", problem.NotFound("No such resource.")
	}
	if !idPattern.MatchString(id) {
		return "", Invalid(FieldError{In: InPath, Path: name, Message: fmt.Sprintf("must be 1-%d characters of A-Z a-z 0-9 . _ ~ -", MaxIDLength)})
	}
	return id, nil
}

// UserID returns the verified caller's id, the only user the customer
// routes act for. The authentication middleware guarantees a principal on
// these routes; its absence is a wiring bug, answered 401 rather than
// trusting anything else the request says.
func UserID(c echo.Context) (string, error) {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return "", problem.Unauthorized("Authentication is required.")
	}
	return p.Subject, nil
}

// DecodeJSON decodes the request body into dst strictly: an
// application/json (or +json) body, else 415, holding exactly one JSON
// value with no unknown members, else 400. echo's DefaultBinder is not used
// because it accepts unknown members and trailing values and answers in its
// own error shape.
func DecodeJSON(c echo.Context, dst any) error {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMediaType, "The body must be application/json.")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		// The body limit middleware's error (413) or a broken connection.
		return err
	}
	return Unmarshal(body, dst)
}

// Unmarshal decodes body into dst strictly: exactly one JSON value whose
// members all exist in dst with the right types, else 400 validation_failed
// listing each offending member by its JSON Pointer. Nothing of the body is
// echoed back but member names.
func Unmarshal(body []byte, dst any) error {
	if probs := jsonscan.Check(body, bodyLimits); len(probs) > 0 {
		return Invalid(BodyErrors(probs)...)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return Invalid(decodeErrors(body, dst, err)...)
	}
	if dec.More() {
		return Invalid(BodyError("", "must hold a single JSON value"))
	}
	return nil
}

// MaxFieldErrors bounds the list of one validation_failed answer.
const MaxFieldErrors = jsonscan.DefaultMaxProblems

// bodyLimits is what a customer body may hold, checked in one cheap pass
// before decoding: integers only (no body carries another number), and
// order lines capped as the order validation caps them, so an oversized
// order is refused before its lines are decoded.
var bodyLimits = jsonscan.Limits{MaxItems: map[string]int{"/items": MaxOrderLines}}

// BodyErrors turns the problems of a body scan into field errors.
func BodyErrors(probs []jsonscan.Problem) []FieldError {
	out := make([]FieldError, 0, len(probs))
	for _, p := range probs {
		out = append(out, BodyError(p.Path, p.Message))
	}
	return out
}

// decodeErrors explains a failed decode member by member. encoding/json
// names neither the array indices of a wrong type ("items.quantity") nor
// where an unknown member sits, so the body is decoded again into generic
// values and walked beside dst's type to find each offending member's JSON
// Pointer. Hand-written because no library in the module graph maps Go
// types onto JSON Pointers without a schema document.
func decodeErrors(body []byte, dst any, err error) []FieldError {
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return []FieldError{BodyError("", "is not valid JSON")}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return []FieldError{BodyError("", "is not valid JSON")}
	}
	var out []FieldError
	walk(v, reflect.TypeOf(dst), "", &out)
	if len(out) == 0 {
		// A case the walk does not model (a custom unmarshaler, say).
		return []FieldError{BodyError("", "does not match the expected shape")}
	}
	return out
}

// walk appends to out a FieldError for each member of v, at JSON Pointer
// ptr, that decoding into t refuses, in document order (object members by
// name).
func walk(v any, t reflect.Type, ptr string, out *[]FieldError) {
	if len(*out) >= MaxFieldErrors {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // encoding/json leaves the target alone on null.
	}
	wrong := func() { *out = append(*out, BodyError(ptr, "must be "+jsonType(t))) }
	switch t.Kind() {
	case reflect.Interface:
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			wrong()
			return
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			f, ok := field(t, name)
			if !ok {
				*out = append(*out, BodyError(ptr+"/"+escapePointer(name), "is not a known member"))
				continue
			}
			walk(obj[name], f.Type, ptr+"/"+escapePointer(name), out)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			wrong()
			return
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			walk(obj[name], t.Elem(), ptr+"/"+escapePointer(name), out)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			wrong()
			return
		}
		for i, e := range arr {
			walk(e, t.Elem(), ptr+"/"+strconv.Itoa(i), out)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			wrong()
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			wrong()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			wrong()
			return
		}
		if i, err := strconv.ParseInt(n.String(), 10, 64); err != nil || reflect.New(t).Elem().OverflowInt(i) {
			wrong()
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			wrong()
			return
		}
		if u, err := strconv.ParseUint(n.String(), 10, 64); err != nil || reflect.New(t).Elem().OverflowUint(u) {
			wrong()
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			wrong()
		}
	}
}

// field finds the struct field that decodes the member name, as
// encoding/json does: by the tag's name or the field's, exact match first,
// then ignoring case. Embedded structs are not used by the request bodies
// and are not modelled.
func field(t reflect.Type, name string) (reflect.StructField, bool) {
	var folded *reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
		if folded == nil && strings.EqualFold(tag, name) {
			folded = &f
		}
	}
	if folded != nil {
		return *folded, true
	}
	return reflect.StructField{}, false
}

// escapePointer escapes a member name as a JSON Pointer reference token
// (RFC 6901 §3).
func escapePointer(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "of another type"
	}
}

// ValidIdempotencyKey accepts an absent key or 1-255 visible ASCII
// characters (the field-value of RFC 9110 without spaces, as the IETF
// Idempotency-Key draft's keys are).
func ValidIdempotencyKey(k string) bool {
	if len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}
