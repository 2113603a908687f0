package storefront

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/auth"
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

// FieldError is one problem of a request, with the JSON path or parameter
// it concerns; validation_failed lists them under `errors`.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Invalid returns the 400 validation_failed problem listing errs, each also
// summed up in the detail.
func Invalid(errs ...FieldError) *problem.Problem {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Path+": "+e.Message)
	}
	return problem.ValidationFailed(strings.Join(msgs, "; ")).With("errors", errs)
}

// ValidCurrency reports whether s is shaped like an ISO 4217 code.
func ValidCurrency(s string) bool { return currencyPattern.MatchString(s) }

// PathID returns the path parameter name, checked to be an id of the
// domain services.
func PathID(c echo.Context, name string) (string, error) {
	id := c.Param(name)
	if !idPattern.MatchString(id) {
		return "", Invalid(FieldError{Path: name, Message: fmt.Sprintf("must be 1-%d characters of A-Z a-z 0-9 . _ ~ -", MaxIDLength)})
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return Invalid(FieldError{Path: "$", Message: jsonMessage(err)})
	}
	if dec.More() {
		return Invalid(FieldError{Path: "$", Message: "must hold a single JSON value"})
	}
	return nil
}

// jsonMessage describes a decoding error without echoing the body back.
func jsonMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		path := "$"
		if typeErr.Field != "" {
			path = "$." + typeErr.Field
		}
		return fmt.Sprintf("%s must be %s", path, jsonType(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "is not valid JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for an unknown member.
		return "has the unknown member " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "is not valid JSON"
	}
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "of another type"
	}
}

// validIdempotencyKey accepts an absent key or 1-255 visible ASCII
// characters (the field-value of RFC 9110 without spaces, as the IETF
// Idempotency-Key draft's keys are).
func validIdempotencyKey(k string) bool {
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
