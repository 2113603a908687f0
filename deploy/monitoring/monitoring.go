// Package monitoring reads Shopfront's alert rules and Grafana dashboard
// and lists the metrics their PromQL uses, so tests can prove that every
// expression parses and that every metric exists on a running gateway:
// a renamed metric breaks the build, not the dashboard or the pager.
package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Expr is one PromQL expression and where it comes from.
type Expr struct {
	// Source names it in messages, e.g. "alert ShopfrontBreakerOpen".
	Source string
	// Query is the PromQL text.
	Query string
}

// grafanaVars replaces Grafana's interval variables, which are not PromQL,
// with a duration before parsing; label variables ($gateway) sit inside
// strings and parse as they are.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// Rules parses a Prometheus rule file strictly (unknown fields fail) and
// validates every rule as Prometheus does at load time.
func Rules(path string) (*rulefmt.RuleGroups, []Expr, error) {
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	var exprs []Expr
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := "alert " + r.Alert
			if r.Record != "" {
				name = "record " + r.Record
			}
			exprs = append(exprs, Expr{Source: name, Query: r.Expr})
		}
	}
	return groups, exprs, nil
}

// dashboard is the part of a Grafana dashboard that holds queries.
type dashboard struct {
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// DashboardExprs returns every query of the Grafana dashboard at path,
// panels nested in rows included.
func DashboardExprs(path string) ([]Expr, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	var exprs []Expr
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				exprs = append(exprs, Expr{Source: "panel " + p.Title, Query: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return exprs, nil
}

// Metrics parses q and returns the metric names its selectors use, sorted.
// A selector without a metric name is an error: it would match every
// series of a label and cannot be checked.
func Metrics(q string) ([]string, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(q))
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("selector %s names no metric", vs))
			return nil
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	return names, errors.Join(errs...)
}

// Missing returns an error for every metric an expression uses that is
// neither served (names of samples scraped from the gateways) nor external
// (series other exporters provide, e.g. up or kube-state-metrics').
func Missing(exprs []Expr, served map[string]bool, external []string) error {
	var errs []error
	for _, e := range exprs {
		names, err := Metrics(e.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Source, err))
			continue
		}
		for _, n := range names {
			if !served[n] && !slices.Contains(external, n) {
				errs = append(errs, fmt.Errorf("%s: metric %s is not served by any gateway", e.Source, n))
			}
		}
	}
	return errors.Join(errs...)
}
