package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// idPattern is what a path id may hold: the domain services' ids are
	// short tokens, and anything else would only make an upstream 404 more
	// expensive.
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
	categoryPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
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

// catalogQuery is the checked query of GET /v1/catalog.
type catalogQuery struct {
	q, category    string
	page, pageSize int
}

func (a *API) parseCatalog(c echo.Context) (catalogQuery, error) {
	var errs []fieldError
	qs := c.QueryParams()
	out := catalogQuery{q: strings.TrimSpace(qs.Get("q")), category: qs.Get("category"), page: 1, pageSize: a.pageSize}
	for _, name := range CatalogQuery {
		if len(qs[name]) > 1 {
			errs = append(errs, fieldError{Path: name, Message: "must be given at most once"})
		}
	}
	if utf8.RuneCountInString(out.q) > maxQueryLength || !utf8.ValidString(out.q) {
		errs = append(errs, fieldError{Path: "q", Message: fmt.Sprintf("must be at most %d characters of text", maxQueryLength)})
	}
	if out.category != "" && !categoryPattern.MatchString(out.category) {
		errs = append(errs, fieldError{Path: "category", Message: "must be 1-64 characters of A-Z a-z 0-9 . _ -"})
	}
	if qs.Has("page") {
		p, err := strconv.Atoi(qs.Get("page"))
		if err != nil || p < 1 || p > maxPage {
			errs = append(errs, fieldError{Path: "page", Message: fmt.Sprintf("must be an integer within 1..%d", maxPage)})
		}
		out.page = p
	}
	if qs.Has("pageSize") {
		n, err := strconv.Atoi(qs.Get("pageSize"))
		if err != nil || n < 1 || n > a.maxPageSize {
			errs = append(errs, fieldError{Path: "pageSize", Message: fmt.Sprintf("must be an integer within 1..%d", a.maxPageSize)})
		}
		out.pageSize = n
	}
	if len(errs) > 0 {
		return catalogQuery{}, invalid(errs...)
	}
	return out, nil
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
	switch {
	case errors.As(err, &typeErr):
		path := "$"
		if typeErr.Field != "" {
			path = "$." + typeErr.Field
		}
		return path + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "has the unknown member " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "is not valid JSON"
	}
}
