package server_test

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/server"
)

// A gateway's composition root builds the server, adds its checks, hooks and
// routes (with auth -> rate limit on them; route budgets live in the
// handlers, see aggregate), then runs it
// until the signal context of main ends.
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, server.Options{
		Name: "bff-example", Logger: zap.NewNop(), Registry: metrics.NewRegistry(),
	})
	if err != nil {
		panic(err)
	}
	s.AddCheck("jwks", true, func(context.Context) error { return nil })
	s.OnShutdown(func(context.Context) error { return nil })
	s.Echo().GET("/v1/ping", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })

	cancel() // main's ctx ends on SIGTERM; here at once.
	if err := s.Run(ctx); err != nil {
		panic(err)
	}
	// Output:
}
