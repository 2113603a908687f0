package upload_test

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/shared/edge/auth"
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
