package jsonx_test

import (
	stdjson "encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/jsonx"
)

// TestParity decodes the same inputs with jsonx and encoding/json and
// expects the same value and the same error, message included: the
// upstream client puts the message in its logs and maps a failure to a
// 502 whatever the codec.
func TestParity(t *testing.T) {
	tests := []struct {
		name string
		give string
		into func() any
	}{
		{name: "ok, product", give: `{"id":"p-0001","name":"Kettle","images":[{"url":"https://x/1.jpg","width":1,"height":2}],"updatedAt":"2026-01-01T00:00:00Z"}`, into: func() any { return new(domain.Product) }},
		{name: "ok, list", give: `{"items":[{"productId":"p-1","score":0.5},{"productId":"p-2","score":1e-3}]}`, into: func() any { return new(domain.RecommendationList) }},
		{name: "ok, keys matched without regard to case", give: `{"ID":"p-1","NAME":"x"}`, into: func() any { return new(domain.Product) }},
		{name: "ok, unknown members ignored", give: `{"id":"p-1","secret":{"a":[1,2,3]}}`, into: func() any { return new(domain.Product) }},
		{name: "ok, duplicate member: the last wins", give: `{"id":"a","id":"b"}`, into: func() any { return new(domain.Product) }},
		{name: "ok, null leaves the zero value", give: `{"id":null,"images":null}`, into: func() any { return new(domain.Product) }},
		{name: "ok, invalid UTF-8 replaced", give: "{\"id\":\"p-\xff1\"}", into: func() any { return new(domain.Product) }},
		{name: "ok, escapes", give: `{"id":"\u00e9\n\"\\\/\ud83d\ude00"}`, into: func() any { return new(domain.Product) }},
		{name: "ok, leading and trailing space", give: " \n{\"id\":\"p\"}\n\t", into: func() any { return new(domain.Product) }},
		{name: "ok, into any", give: `{"a":[1,"x",true,null,{"b":2.5}]}`, into: func() any { return new(any) }},
		{name: "ok, raw message kept as it is", give: `{"event":"order.created","data":{"id":"o-1", "n": [1, 2]}}`, into: func() any { return new(domain.Event) }},
		{name: "nok, syntax error", give: `{"id":"p-1",}`, into: func() any { return new(domain.Product) }},
		{name: "nok, cut short", give: `{"id":"p-1"`, into: func() any { return new(domain.Product) }},
		{name: "nok, empty", give: ``, into: func() any { return new(domain.Product) }},
		{name: "nok, html", give: `<html>oops</html>`, into: func() any { return new(domain.Product) }},
		{name: "nok, trailing data", give: `{"id":"p-1"} {"id":"p-2"}`, into: func() any { return new(domain.Product) }},
		{name: "nok, string for a number", give: `{"items":[{"productId":"p-1","score":"high"}]}`, into: func() any { return new(domain.RecommendationList) }},
		{name: "nok, number out of range", give: `{"userId":"u","unread":99999999999999999999}`, into: func() any { return new(domain.UnreadCount) }},
		{name: "nok, bad time", give: `{"id":"p","updatedAt":"yesterday"}`, into: func() any { return new(domain.Product) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, got := tt.into(), tt.into()
			wantErr := stdjson.Unmarshal([]byte(tt.give), want)
			gotErr := jsonx.Unmarshal([]byte(tt.give), got)
			if strings.HasPrefix(tt.name, "nok") {
				require.Error(t, wantErr, "encoding/json accepts it: the case is wrong")
				require.Error(t, gotErr)
				assert.Equal(t, wantErr.Error(), gotErr.Error())
				return
			}
			require.NoError(t, wantErr)
			require.NoError(t, gotErr)
			assert.Equal(t, want, got)
		})
	}
}

// TestUnmarshalKeepsNothingOfTheInput reuses the input after decoding, as
// the upstream client reuses its pooled buffers, and expects the decoded
// strings and raw messages unchanged.
func TestUnmarshalKeepsNothingOfTheInput(t *testing.T) {
	data := []byte(`{"event":"order.created","data":{"id":"o-1"}}`)
	var e domain.Event
	require.NoError(t, jsonx.Unmarshal(data, &e))
	for i := range data {
		data[i] = 'x'
	}
	assert.Equal(t, "order.created", e.Event)
	assert.JSONEq(t, `{"id":"o-1"}`, string(e.Data))
}

// TestMarshalParity encodes with jsonx and encoding/json and expects the
// same bytes: HTML characters escaped, times in RFC 3339, maps sorted,
// nil slices null, omitempty honoured.
func TestMarshalParity(t *testing.T) {
	v := map[string]any{
		"product": domain.Product{ID: "p-1", Name: "<b>Kettle & co</b>", UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		"list":    domain.ProductList{},
		"z":       1.5, "a": []string{"x"}, "n": nil, "u": "\u2028é",
	}
	want, err := stdjson.Marshal(v)
	require.NoError(t, err)
	got, err := jsonx.Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestBuffers(t *testing.T) {
	b := jsonx.GetBuffer()
	b.WriteString("left over")
	jsonx.PutBuffer(b)
	assert.Zero(t, jsonx.GetBuffer().Len(), "a pooled buffer comes back empty")
}

// TestSerializerWritesWhatEchoWrites renders the same values through
// echo's default serializer and Serializer and expects the same bytes,
// indented or not.
func TestSerializerWritesWhatEchoWrites(t *testing.T) {
	v := map[string]any{"product": domain.Product{ID: "p-1", Name: "<Kettle>"}, "degraded": []string{}}
	for _, indent := range []string{"", "  "} {
		render := func(s echo.JSONSerializer) string {
			e := echo.New()
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
			require.NoError(t, s.Serialize(c, v, indent))
			return rec.Body.String()
		}
		assert.Equal(t, render(echo.DefaultJSONSerializer{}), render(jsonx.Serializer{}), "indent %q", indent)
	}
}

// TestSerializerReadsLikeEcho: request bodies keep echo's decoding, its
// 400 for a malformed body included.
func TestSerializerReadsLikeEcho(t *testing.T) {
	for _, body := range []string{`{"id":"p-1"}`, `{"id":`, `{"id":5}`} {
		read := func(s echo.JSONSerializer) (domain.Product, error) {
			e := echo.New()
			c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)), httptest.NewRecorder())
			var p domain.Product
			err := s.Deserialize(c, &p)
			return p, err
		}
		wantP, wantErr := read(echo.DefaultJSONSerializer{})
		gotP, gotErr := read(jsonx.Serializer{})
		assert.Equal(t, wantP, gotP, body)
		assert.Equal(t, fmt.Sprint(wantErr), fmt.Sprint(gotErr), body)
	}
}

// TestSerializerFailsLikeEcho: a value that cannot be encoded writes
// nothing and fails with encoding/json's error.
func TestSerializerFailsLikeEcho(t *testing.T) {
	v := map[string]any{"n": math.NaN()}
	render := func(s echo.JSONSerializer) (string, error) {
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		err := s.Serialize(c, v, "")
		return rec.Body.String(), err
	}
	wantBody, wantErr := render(echo.DefaultJSONSerializer{})
	gotBody, gotErr := render(jsonx.Serializer{})
	require.Error(t, gotErr)
	assert.Equal(t, wantErr.Error(), gotErr.Error())
	assert.Equal(t, wantBody, gotBody)
	assert.Empty(t, gotBody)
}
