package audit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine its code started outlives
// the tests: a leak here is a goroutine per request or per call in a
// gateway that runs for weeks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
