package api

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/input"
)

// Input limits of the catalog. Every check answers 400 validation_failed and
// changes nothing, before any upstream call; the cart and order routes check
// theirs with shared/edge/input.
const (
	maxQueryLength = 200
	maxPage        = 1000
)

var categoryPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// catalogQuery is the checked query of GET /v1/catalog.
type catalogQuery struct {
	q, category    string
	page, pageSize int
}

func (a *API) parseCatalog(c echo.Context) (catalogQuery, error) {
	var errs []input.FieldError
	qs := c.QueryParams()
	out := catalogQuery{q: strings.TrimSpace(qs.Get("q")), category: qs.Get("category"), page: 1, pageSize: a.pageSize}
	for _, name := range CatalogQuery() {
		if len(qs[name]) > 1 {
			errs = append(errs, input.QueryError(name, "must be given at most once"))
		}
	}
	if utf8.RuneCountInString(out.q) > maxQueryLength || !utf8.ValidString(out.q) {
		errs = append(errs, input.QueryError("q", fmt.Sprintf("must be at most %d characters of text", maxQueryLength)))
	}
	if out.category != "" && !categoryPattern.MatchString(out.category) {
		errs = append(errs, input.QueryError("category", "must be 1-64 characters of A-Z a-z 0-9 . _ -"))
	}
	if qs.Has("page") {
		p, err := strconv.Atoi(qs.Get("page"))
		if err != nil || p < 1 || p > maxPage {
			errs = append(errs, input.QueryError("page", fmt.Sprintf("must be an integer within 1..%d", maxPage)))
		}
		out.page = p
	}
	if qs.Has("pageSize") {
		n, err := strconv.Atoi(qs.Get("pageSize"))
		if err != nil || n < 1 || n > a.maxPageSize {
			errs = append(errs, input.QueryError("pageSize", fmt.Sprintf("must be an integer within 1..%d", a.maxPageSize)))
		}
		out.pageSize = n
	}
	if len(errs) > 0 {
		return catalogQuery{}, input.Invalid(errs...)
	}
	return out, nil
}
