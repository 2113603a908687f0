package api

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/input"
)

// Input limits of the screens. Every check answers 400 validation_failed
// and changes nothing, before any upstream call; the cart and order routes
// check theirs with shared/edge/input.
const (
	maxQueryLength = 200
	maxPage        = 1000
)

type point struct{ lat, lon float64 }

// parsePoint reads lat and lon: both or neither.
func parsePoint(c echo.Context) (*point, error) {
	q := c.QueryParams()
	if !q.Has("lat") && !q.Has("lon") {
		return nil, nil
	}
	var errs []input.FieldError
	lat, err := coordinate(q.Get("lat"), 90)
	if err != nil {
		errs = append(errs, input.QueryError("lat", err.Error()))
	}
	lon, err := coordinate(q.Get("lon"), 180)
	if err != nil {
		errs = append(errs, input.QueryError("lon", err.Error()))
	}
	if len(errs) > 0 {
		return nil, input.Invalid(errs...)
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
	var errs []input.FieldError
	q := strings.TrimSpace(c.QueryParam("q"))
	switch n := utf8.RuneCountInString(q); {
	case n == 0:
		errs = append(errs, input.QueryError("q", "is required"))
	case n > maxQueryLength || !utf8.ValidString(q):
		errs = append(errs, input.QueryError("q", fmt.Sprintf("must be at most %d characters of text", maxQueryLength)))
	}
	page := 1
	if s := c.QueryParam("page"); s != "" || c.QueryParams().Has("page") {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > maxPage {
			errs = append(errs, input.QueryError("page", fmt.Sprintf("must be an integer within 1..%d", maxPage)))
		}
		page = p
	}
	if len(errs) > 0 {
		return "", 0, input.Invalid(errs...)
	}
	return q, page, nil
}
