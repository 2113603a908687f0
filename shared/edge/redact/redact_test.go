package redact_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/redact"
)

const (
	bearer   = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
	apiKey   = "sk_live_4f9a8b7c6d5e"
	password = "hunter2-correct-horse"
	card     = "4111111111111111"
)

// TestNames pins the secret names: a change to the list changes what every
// log and the audit hide, and must be deliberate.
func TestNames(t *testing.T) {
	t.Parallel()
	fragments, whole := redact.Names()
	assert.Equal(t, []string{
		"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "privatekey",
		"credential", "cardnumber", "creditcard", "cvv", "cvc", "authorization", "cookie", "session",
	}, fragments)
	assert.Equal(t, []string{"pan"}, whole)

	fragments[0], whole[0] = "changed", "changed"
	again, wholeAgain := redact.Names()
	assert.Equal(t, "password", again[0], "a copy: callers cannot widen or narrow the list")
	assert.Equal(t, "pan", wholeAgain[0])
}

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		expect bool
	}{
		{"Authorization", true}, {"proxy-authorization", true}, {"Cookie", true}, {"Set-Cookie", true},
		{"X-API-Key", true}, {"x-api-key", true}, {"X-CSRF-Token", true},
		{"password", true}, {"newPassword", true}, {"client_secret", true}, {"access_token", true},
		{"refreshToken", true}, {"api_key", true}, {"apiKey", true}, {"cardNumber", true}, {"card_number", true},
		{"PAN", true}, {"sessionId", true}, {"aws_credentials", true}, {"passphrase", true}, {"accessKey", true},
		{"card.number", true}, {"company", false}, {"panel", false},
		{"q", false}, {"productId", false}, {"Accept", false}, {"X-Request-Id", false}, {"page", false},
	}
	for _, tt := range tests {
		t.Run(map[bool]string{true: "ok, secret ", false: "ok, plain "}[tt.expect]+tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, redact.Name(tt.name))
		})
	}
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, given, expect string
	}{
		{"ok, empty", "", ""},
		{"ok, plain kept byte for byte", "q=red%20shoe&page=2", "q=red%20shoe&page=2"},
		{"ok, secrets redacted", "q=x&access_token=" + bearer + "&api_key=" + apiKey, "q=x&access_token=[REDACTED]&api_key=[REDACTED]"},
		{"ok, a card number under any name", "note=4111-1111-1111-1111&n=4111111111111112", "note=[REDACTED]&n=4111111111111112"},
		{"ok, escaped names are recognised", "client%5Fsecret=abc&password", "client%5Fsecret=[REDACTED]&password=[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, redact.Query(tt.given, redact.Marker))
		})
	}
}

func TestRedactJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     string
		expect    string
		expectErr bool
	}{
		{
			name:   "ok, nested secrets redacted, rest kept",
			given:  `{"username":"alice","password":"` + password + `","payment":{"cardNumber":"` + card + `","amount":1999},"items":[{"productId":"p1","apiKey":"` + apiKey + `"}]}`,
			expect: `{"items":[{"apiKey":"[REDACTED]","productId":"p1"}],"password":"[REDACTED]","payment":{"amount":1999,"cardNumber":"[REDACTED]"},"username":"alice"}`,
		},
		{
			name:   "ok, non-string secret values redacted too",
			given:  `{"token":{"a":1},"secret":12345678901234567890}`,
			expect: `{"secret":"[REDACTED]","token":"[REDACTED]"}`,
		},
		{name: "ok, large numbers keep their text", given: `[12345678901234567890, 1.50]`, expect: `[12345678901234567890,1.50]`},
		{name: "ok, card numbers under any name", given: `{"note":"` + card + `","n":4111111111111111}`,
			expect: `{"n":"[REDACTED]","note":"[REDACTED]"}`},
		{name: "nok, not JSON", given: "password=" + password, expectErr: true},
		{name: "nok, two JSON values", given: `{} {}`, expectErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := redact.JSON([]byte(tt.given))
			if tt.expectErr {
				assert.Error(t, err)
				assert.NotContains(t, err.Error(), password)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.expect, string(got))
			assert.Equal(t, tt.expect, string(got))
		})
	}
}

func TestCard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		given  string
		expect bool
	}{
		{"4111111111111111", true}, {"4111 1111 1111 1111", true}, {"4111-1111-1111-1111", true},
		{"4111111111111112", false}, {"411111111111", false}, {"41111111111111111111", false}, {"4111x1111111111111", false},
	}
	for _, tt := range tests {
		t.Run(map[bool]string{true: "ok, card ", false: "ok, not a card "}[tt.expect]+tt.given, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, redact.Card(tt.given))
		})
	}
}
