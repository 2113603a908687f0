package readiness_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine its code started outlives
// the tests: a leak here is a goroutine per request or per call in a
// gateway that runs for weeks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// stuck is the test's badly written check: it ignores its context
		// on purpose, and nothing can stop a goroutine that does; what the
		// tests prove is that /readyz answers without it.
		goleak.IgnoreAnyFunction("github.com/shopfront/shared/edge/readiness_test.stuck"),
	)
}
