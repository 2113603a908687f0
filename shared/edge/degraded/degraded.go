// Package degraded owns what a gateway does when an optional source of an
// aggregate answer fails: the section is left empty and named in the
// answer's degraded list (aggregate's job), the operator is told the cause
// in one Warn line per failed source (Log), and the section is counted in
// shopfront_degraded_sections_total{route,source} (Sections, Count). Every
// gateway route that aggregates uses it, so a degraded answer is logged and
// counted alike everywhere.
package degraded

import (
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/requestid"
)

// Message is the message of the Warn line of a failed optional source.
const Message = "optional source failed"

// Sections returns the counter shopfront_degraded_sections_total{route,source},
// unregistered: the gateway registers it once and shares it among its
// routes.
func Sections() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopfront_degraded_sections_total",
		Help: "Sections of aggregate responses left empty because their optional source failed, by route and source.",
	}, []string{"route", "source"})
}

// Count adds the sections the answer to c had to leave empty to counter,
// labelled by c's route template. A nil counter counts nothing.
func Count(counter *prometheus.CounterVec, c echo.Context, sources []string) {
	if counter == nil {
		return
	}
	for _, s := range sources {
		counter.WithLabelValues(c.Path(), s).Inc()
	}
}

// Log returns an aggregate hook that writes one Warn line per failed
// optional source of the answer to c, naming the route, the source, the
// request id and the cause: the client only learns the source's name from
// degraded, the operator needs the cause. Critical failures are left to
// the error renderer, which logs the failed request itself.
func Log(log *zap.Logger, c echo.Context) aggregate.Part {
	id, route := requestid.FromContext(c.Request().Context()), c.Path()
	return aggregate.Observe(func(r aggregate.Result) {
		if r.Err == nil || r.Critical {
			return
		}
		log.Warn(Message, zap.String("requestId", id), zap.String("route", route),
			zap.String("source", r.Name), zap.Duration("took", r.Duration), zap.Error(r.Err))
	})
}
