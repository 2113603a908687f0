package api_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/bff-partner/internal/api"
)

func TestDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		amount   int64
		currency string
		want     string
	}{
		{name: "ok, cents", amount: 1999, currency: "USD", want: "19.99"},
		{name: "ok, leading zero cents", amount: 1905, currency: "EUR", want: "19.05"},
		{name: "ok, under one unit", amount: 7, currency: "GBP", want: "0.07"},
		{name: "ok, zero", amount: 0, currency: "USD", want: "0.00"},
		{name: "ok, negative", amount: -250, currency: "USD", want: "-2.50"},
		{name: "ok, no minor unit", amount: 1999, currency: "JPY", want: "1999"},
		{name: "ok, three digits", amount: 1999, currency: "KWD", want: "1.999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, api.Decimal(tt.amount, tt.currency))
		})
	}
}
