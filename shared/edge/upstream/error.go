package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"syscall"

	"github.com/sony/gobreaker/v2"

	"github.com/shopfront/shared/edge/problem"
)

// Kind classifies a failed upstream call; it decides the status the caller
// sees and is the `outcome` label of the call metric.
type Kind string

// The kinds of failure.
const (
	// KindTimeout: the per-call timeout or the caller's deadline expired. 504.
	KindTimeout Kind = "timeout"
	// KindUnavailable: the connection could not be made (refused, no
	// route, unknown host). 503.
	KindUnavailable Kind = "unavailable"
	// KindBreakerOpen: the service's breaker is open; no call was made. 503.
	KindBreakerOpen Kind = "breaker_open"
	// KindReset: the connection broke mid-call (reset, EOF). 502.
	KindReset Kind = "reset"
	// KindServerError: the service answered 5xx. 502.
	KindServerError Kind = "server_error"
	// KindBadResponse: the answer could not be read or decoded. 502.
	KindBadResponse Kind = "bad_response"
	// KindClientError: the service answered 4xx; the status is mapped in
	// Problem. Not a failure for the breaker.
	KindClientError Kind = "client_error"
	// KindCanceled: the caller went away (context.Canceled). 499, not an
	// upstream failure.
	KindCanceled Kind = "canceled"
)

// Error is a failed upstream call. It implements problem.Problemer, so
// handlers return it as it is and the renderer maps it by Kind. The upstream's
// body never reaches the client: only its status and, for some 4xx, its
// stable `error` code.
type Error struct {
	// Service is the domain service called, e.g. "catalog".
	Service string
	// Kind classifies the failure.
	Kind Kind
	// Status is the upstream's HTTP status, 0 when there was no answer.
	Status int
	// Code is the upstream's problem+json `error` code, when it sent a
	// well-formed one with a 4xx.
	Code string
	// Err is the cause, for logs.
	Err error
}

var _ problem.Problemer = (*Error)(nil)

// Error implements error.
func (e *Error) Error() string {
	msg := fmt.Sprintf("calling %s: %s", e.Service, e.Kind)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (status %d)", e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Problem maps the failure to the problem the gateway's client sees. Each
// call returns a fresh value.
func (e *Error) Problem() *problem.Problem {
	var p *problem.Problem
	switch e.Kind {
	case KindTimeout:
		p = problem.New(http.StatusGatewayTimeout, problem.CodeUpstreamTimeout, "")
	case KindUnavailable, KindBreakerOpen:
		p = problem.New(http.StatusServiceUnavailable, problem.CodeUpstreamUnavailable, "")
	case KindReset, KindServerError, KindBadResponse:
		p = problem.New(http.StatusBadGateway, problem.CodeUpstreamUnavailable, "")
	case KindCanceled:
		p = problem.New(problem.StatusClientClosedRequest, problem.CodeClientClosed, "")
	case KindClientError:
		p = clientErrorProblem(e.Status, e.Code)
	default:
		p = problem.New(http.StatusBadGateway, problem.CodeUpstreamUnavailable, "")
	}
	p.Err = e
	return p
}

// clientErrorProblem maps an upstream 4xx. The statuses that describe the
// caller's request (not found, conflict, unprocessable) pass through with a
// generic detail; the ones that mean the gateway itself called wrongly are a
// bad gateway.
func clientErrorProblem(status int, code string) *problem.Problem {
	switch status {
	case http.StatusBadRequest:
		return problem.BadRequest("The request was rejected by a domain service.")
	case http.StatusUnauthorized:
		return problem.Unauthorized("The credentials were not accepted.")
	case http.StatusForbidden:
		return problem.Forbidden("The request is not allowed.")
	case http.StatusNotFound:
		return problem.NotFound("The requested resource was not found.")
	case http.StatusConflict, http.StatusGone, http.StatusPreconditionFailed, http.StatusUnprocessableEntity:
		if code == "" {
			code = map[int]string{
				http.StatusConflict:            problem.CodeConflict,
				http.StatusGone:                problem.CodeGone,
				http.StatusPreconditionFailed:  problem.CodePreconditionFailed,
				http.StatusUnprocessableEntity: "unprocessable_content",
			}[status]
		}
		return problem.New(status, code, "The request conflicts with the current state of the resource.")
	case http.StatusTooManyRequests:
		// The gateway, not its client, is being throttled: the service is
		// unavailable for now.
		return problem.New(http.StatusServiceUnavailable, problem.CodeUpstreamUnavailable, "")
	default:
		return problem.New(http.StatusBadGateway, problem.CodeUpstreamUnavailable, "")
	}
}

// codePattern accepts the stable snake_case error codes (docs/errors.md).
var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// classify turns a transport error into a Kind. callerCtx is the context the
// caller passed in: when it was cancelled the caller went away (499), while
// a deadline, the caller's or the per-call one, is a timeout (504).
func classify(callerCtx context.Context, err error) Kind {
	var netErr net.Error
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return KindBreakerOpen
	case errors.Is(callerCtx.Err(), context.Canceled), errors.Is(err, context.Canceled):
		// The per-call context only ever expires with DeadlineExceeded, so a
		// cancellation always comes from the caller.
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	case errors.Is(err, syscall.ECONNREFUSED), isDialError(err):
		return KindUnavailable
	default:
		// Connection reset, EOF, broken pipe and protocol errors: the
		// connection was made and then broke.
		return KindReset
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
