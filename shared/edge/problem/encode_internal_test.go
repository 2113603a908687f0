package problem

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStandardMembersEncodeAsTheMap: a problem without extensions is
// encoded from a struct, which must give the bytes encoding/json gives for
// its members' map (keys sorted, HTML characters escaped, instance and
// requestId present even when empty), so that answers do not change with
// the path that encoded them.
func TestStandardMembersEncodeAsTheMap(t *testing.T) {
	t.Parallel()
	for _, p := range []*Problem{
		{Type: "https://example.test/errors#rate_limited", Title: "Too Many Requests", Status: http.StatusTooManyRequests,
			Detail: "slow down", Instance: "urn:request:abc", Code: CodeRateLimited, RequestID: "abc"},
		{Title: "Service Unavailable", Status: http.StatusServiceUnavailable, Code: CodeOverloaded},
		{Title: "<b>&amp;</b>", Status: http.StatusBadRequest, Detail: "quote \" backslash \\ tab \t nul \x00 line sep \u2028 é 日本",
			Code: CodeBadRequest, Instance: "/v1/a?b=<c>&d", Type: "about:blank"},
		{Status: http.StatusNotFound, Detail: "invalid utf-8 \xff\xfe", Code: CodeNotFound},
	} {
		want, err := json.Marshal(p.members())
		require.NoError(t, err)
		got, err := p.encode()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
}
