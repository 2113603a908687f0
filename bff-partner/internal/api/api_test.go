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
		expect   string
	}{
		{name: "ok, cents", amount: 1999, currency: "USD", expect: "19.99"},
		{name: "ok, leading zero cents", amount: 1905, currency: "EUR", expect: "19.05"},
		{name: "ok, under one unit", amount: 7, currency: "GBP", expect: "0.07"},
		{name: "ok, zero", amount: 0, currency: "USD", expect: "0.00"},
		{name: "ok, negative", amount: -250, currency: "USD", expect: "-2.50"},
		{name: "ok, no minor unit", amount: 1999, currency: "JPY", expect: "1999"},
		{name: "ok, three digits", amount: 1999, currency: "KWD", expect: "1.999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, api.Decimal(tt.amount, tt.currency))
		})
	}
}
