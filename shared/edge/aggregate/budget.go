package aggregate

import (
	"errors"
	"fmt"
	"time"
)

// Budget is one route's budget in a gateway's configuration: the whole
// route's upstream work, stages included, as given to Run. A gateway keeps its budgets as named
// fields of its own struct (the routes differ per gateway) and lists them
// once as Budgets, which both validates them at load and resolves their
// defaults for the routes.
type Budget struct {
	// Name is the setting's name in errors: its environment variable or
	// YAML key. Required.
	Name string
	// Value points at the configured budget; zero means Default, a negative
	// value is an error. Required.
	Value *time.Duration
	// Default replaces a zero Value: the common route budget for an
	// aggregate route, the upstream call timeout for a route of one call.
	// Required.
	Default time.Duration
}

// Budgets is a gateway's list of route budgets, in the order their errors
// are reported.
type Budgets []Budget

// Validate reports every negative or unset budget, one "NAME: problem"
// line each, in the order of bs, so that a configuration error reads the
// same on every run.
func (bs Budgets) Validate() error {
	var errs []error
	for _, b := range bs {
		switch {
		case b.Value == nil:
			errs = append(errs, fmt.Errorf("%s: budget has no value", b.Name))
		case *b.Value < 0:
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", b.Name, *b.Value))
		}
	}
	return errors.Join(errs...)
}

// Resolve sets every zero budget to its default. Call it after Validate.
func (bs Budgets) Resolve() {
	for _, b := range bs {
		if b.Value != nil && *b.Value == 0 {
			*b.Value = b.Default
		}
	}
}
