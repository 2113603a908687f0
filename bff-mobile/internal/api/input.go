package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/problem"
)

// Input limits. Every check answers 400 validation_failed and changes
// nothing, before any upstream call.
const (
	maxIDLength       = 128
	maxQueryLength    = 200
	maxPage           = 1000
	maxQuantity       = 99
	maxOrderLines     = 100
	maxIdempotencyKey = 255
)

var (
	// idPattern is what a path id may hold: the ids of the domain services
	// are short tokens, and anything else would only make an upstream 404
	// more expensive.
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// fieldError is one problem of a request, with the JSON path or parameter
// it concerns; validation_failed lists them under `errors`.
type fieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func invalid(errs ...fieldError) *problem.Problem {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Path+": "+e.Message)
	}
	return problem.ValidationFailed(strings.Join(msgs, "; ")).With("errors", errs)
}

func pathID(c echo.Context, name string) (string, error) {
	id := c.Param(name)
	if !idPattern.MatchString(id) {
		return "", invalid(fieldError{Path: name, Message: fmt.Sprintf("must be 1-%d characters of A-Z a-z 0-9 . _ ~ -", maxIDLength)})
	}
	return id, nil
}

type point struct{ lat, lon float64 }

// parsePoint reads lat and lon: both or neither.
func parsePoint(c echo.Context) (*point, error) {
	q := c.QueryParams()
	if !q.Has("lat") && !q.Has("lon") {
		return nil, nil
	}
	var errs []fieldError
	lat, err := coordinate(q.Get("lat"), 90)
	if err != nil {
		errs = append(errs, fieldError{Path: "lat", Message: err.Error()})
	}
	lon, err := coordinate(q.Get("lon"), 180)
	if err != nil {
		errs = append(errs, fieldError{Path: "lon", Message: err.Error()})
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return &point{lat: lat, lon: lon}, nil
}

func coordinate(s string, limit float64) (float64, error) {
	if s == "" {
		return 0, errors.New("is required with the other coordinate")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < -limit || f > limit {
		return 0, fmt.Errorf("must be a number within -%g..%g", limit, limit)
	}
	return f, nil
}

func parseSearch(c echo.Context) (string, int, error) {
	var errs []fieldError
	q := strings.TrimSpace(c.QueryParam("q"))
	switch n := utf8.RuneCountInString(q); {
	case n == 0:
		errs = append(errs, fieldError{Path: "q", Message: "is required"})
	case n > maxQueryLength || !utf8.ValidString(q):
		errs = append(errs, fieldError{Path: "q", Message: fmt.Sprintf("must be at most %d characters of text", maxQueryLength)})
	}
	page := 1
	if s := c.QueryParam("page"); s != "" || c.QueryParams().Has("page") {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > maxPage {
			errs = append(errs, fieldError{Path: "page", Message: fmt.Sprintf("must be an integer within 1..%d", maxPage)})
		}
		page = p
	}
	if len(errs) > 0 {
		return "", 0, invalid(errs...)
	}
	return q, page, nil
}

// decodeJSON decodes the request body into dst strictly: an
// application/json body (else 415) holding exactly one JSON value with no
// unknown members (else 400).
func decodeJSON(c echo.Context, dst any) error {
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
		return invalid(fieldError{Path: "$", Message: jsonMessage(err)})
	}
	if dec.More() {
		return invalid(fieldError{Path: "$", Message: "must hold a single JSON value"})
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
