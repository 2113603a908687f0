//go:build cluster || clustercheck

package cluster_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// devPartnerKey is the documented development key of partner acme
// (deploy/dev/partner-keys.yaml): every scope, burst 20.
const devPartnerKey = "sf_dev_acme_3vQ8kT2mW9xR4pLz"

// passwordToken asks the fakes' identity service for a user's token, as a
// mobile or web client does.
func passwordToken(t testing.TB, fakes, user, client string) string {
	t.Helper()
	res, err := http.PostForm(fakes+"/identity/oauth/token", url.Values{
		"grant_type": {"password"}, "username": {user}, "password": {"shopfront"}, "client_id": {client},
	})
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "token for %s", user)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.NotEmpty(t, body.AccessToken)
	return body.AccessToken
}
