package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway"
)

// testConfig is a gateway's configuration: config.Common embedded.
type testConfig struct {
	config.Common
}

// app is a fake built gateway: Run serves until ctx is done, then returns
// err.
type app struct {
	err error
}

func (a app) Run(ctx context.Context) error {
	<-ctx.Done()
	return a.err
}

func TestCommandRun(t *testing.T) {
	t.Parallel()
	problems := errors.Join(config.Errorf("BFF_ADDR", "%q is not a host:port address", "x"),
		config.Errorf("BFF_LOG_LEVEL", "%q is not one of debug, info, warn, error", "chatty"))
	tests := []struct {
		name         string
		loadErr      error
		logLevel     string
		newErr       error
		runErr       error
		expectCode   int
		expectStderr []string
		expectStdout []string
		dontExpect   []string
	}{
		{name: "ok, cancelled: drained, exit 0", logLevel: "info", expectCode: gateway.ExitOK,
			expectStdout: []string{`"msg":"built"`, `"level":"info"`}},
		{name: "ok, the log level comes from the configuration read through lookup", logLevel: "warn", expectCode: gateway.ExitOK,
			dontExpect: []string{`"msg":"built"`}},
		{name: "nok, bad configuration: a line per problem, exit 2", loadErr: problems, expectCode: gateway.ExitUsage,
			expectStderr: []string{
				`bff-test: BFF_ADDR: "x" is not a host:port address`,
				`bff-test: BFF_LOG_LEVEL: "chatty" is not one of debug, info, warn, error`,
			}},
		{name: "nok, the gateway cannot be built: logged, exit 1", logLevel: "info", newErr: errors.New("listening on :1: denied"),
			expectCode: gateway.ExitFailed, expectStdout: []string{`"msg":"exiting"`, `listening on :1: denied`}},
		{name: "nok, a listener fails: logged, exit 1", logLevel: "info", runErr: errors.New("accept: broken"),
			expectCode: gateway.ExitFailed, expectStdout: []string{`"msg":"exiting"`, `accept: broken`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := gateway.Command[testConfig, app]{
				Name: "bff-test",
				Load: func(lookup config.Lookup) (testConfig, error) {
					var c testConfig
					c.LogLevel, _ = lookup(config.VarLogLevel)
					return c, tt.loadErr
				},
				New: func(_ context.Context, _ testConfig, log *zap.Logger) (app, error) {
					log.Info("built")
					return app{err: tt.runErr}, tt.newErr
				},
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr bytes.Buffer
			code := cmd.Run(ctx, config.MapLookup(map[string]string{config.VarLogLevel: tt.logLevel}), &stdout, &stderr)

			assert.Equal(t, tt.expectCode, code)
			if tt.expectStderr != nil {
				assert.Equal(t, tt.expectStderr, strings.Split(strings.TrimSpace(stderr.String()), "\n"))
				assert.Empty(t, stdout.String(), "nothing starts")
			} else {
				assert.Empty(t, stderr.String())
			}
			for _, s := range tt.expectStdout {
				assert.Contains(t, stdout.String(), s)
			}
			for _, s := range tt.dontExpect {
				assert.NotContains(t, stdout.String(), s)
			}
		})
	}
}
