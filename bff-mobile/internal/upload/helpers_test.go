package upload_test

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-mobile/internal/upload"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/route"
)

func newSum(chunk []byte) string {
	s := sha256.Sum256(chunk)
	return "sha256 " + base64.StdEncoding.EncodeToString(s[:])
}

// asUser stands in for the JWT middleware: every request is user id's.
func asUser(id string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			c.SetRequest(r.WithContext(auth.WithPrincipal(r.Context(), &auth.Principal{Subject: id})))
			return next(c)
		}
	}
}

// register adds api's routes to e as the gateway does, with user standing in
// for the JWT and rate limit of the authenticated policies.
func register(tb testing.TB, e *echo.Echo, api *upload.API, user echo.MiddlewareFunc) {
	tb.Helper()
	err := route.Register(e, route.Chains{
		upload.CapabilitiesPolicy: nil,
		upload.StatusPolicy:       {user},
		upload.TusPolicy:          {user, upload.RequireVersion},
	}, api.Routes())
	if err != nil {
		tb.Fatal(err)
	}
}
