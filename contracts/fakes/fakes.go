// Package fakes serves fakes of Shopfront's twelve domain services
// from one http.Handler: every service under /<service>/..., deterministic
// generated data, an identity service signing RS256 JWTs with a key made at
// start-up, fault injection and per-service request counters for tests.
//
// Admin endpoints, outside every service:
//
//	PUT    /__faults/{service}  body domain.Fault
//	DELETE /__faults            clear every fault
//	DELETE /__faults/{service}  clear one
//	GET    /__stats             {"requests":{"catalog":3,...}}
//	DELETE /__stats             reset the counters
//	POST   /__events/{userId}   body domain.PublishEvent: publish to the user's event stream
//	DELETE /__streams           cut every open event stream mid-way
//	GET    /__uploads/{id}/data the bytes the media service holds for an upload
package fakes

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/shopfront/contracts/domain"
)

// Options configures the fakes. The zero value is ready to use.
type Options struct {
	// Seed drives the generated data set and fault error rates. Optional.
	// Default 1. Equal seeds give equal data.
	Seed uint64
	// Clock stamps tokens, new orders and cart edits, and expires uploads.
	// Optional. Default time.Now.
	Clock func() time.Time
	// UploadTTL is how long the media service keeps an upload after its
	// creation. Optional. Default DefaultUploadTTL (24 h).
	UploadTTL time.Duration
}

// Fakes is the set of fake domain services. It is safe for concurrent use.
type Fakes struct {
	clock   func() time.Time
	handler http.Handler

	mu       sync.Mutex // guards everything below and the mutable part of data
	data     *dataset
	rnd      *rand.Rand
	faults   map[string]domain.Fault
	requests map[string]int
	headers  map[string]http.Header
	idem     map[string]idemRecord
	keys     []signingKey // current key last; the JWKS lists the last two

	media  *media    // the media service's uploads, under their own lock
	events *eventLog // guarded by its own lock
}

// idemRecord remembers the order an Idempotency-Key created.
type idemRecord struct {
	body    string // canonical JSON of the request
	orderID string
}

// signingKey is one RSA key of the identity service.
type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// New generates the data set and the first signing key.
func New(opts Options) (*Fakes, error) {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	f := &Fakes{
		clock: opts.Clock, data: generate(opts.Seed), rnd: rand.New(rand.NewPCG(opts.Seed, 0xfa17)),
		faults: map[string]domain.Fault{}, requests: map[string]int{}, headers: map[string]http.Header{},
		idem: map[string]idemRecord{}, media: newMedia(opts.Clock, opts.UploadTTL),
		events: newEventLog(),
	}
	if _, err := f.RotateKey(); err != nil {
		return nil, err
	}
	f.handler = f.routes()
	return f, nil
}

// Handler serves every fake service and the admin endpoints.
func (f *Fakes) Handler() http.Handler { return f.handler }

// routes builds the mux: one sub-mux per service behind the fault and
// statistics layer, then the admin endpoints.
func (f *Fakes) routes() http.Handler {
	mux := http.NewServeMux()
	services := map[string]func(*http.ServeMux){
		domain.ServiceCatalog: f.catalogRoutes, domain.ServiceInventory: f.inventoryRoutes,
		domain.ServicePricing: f.pricingRoutes, domain.ServiceReviews: f.reviewsRoutes,
		domain.ServiceRecommendations: f.recommendationsRoutes, domain.ServiceUsers: f.usersRoutes,
		domain.ServiceOrders: f.ordersRoutes, domain.ServiceCart: f.cartRoutes,
		domain.ServicePayments: f.paymentsRoutes, domain.ServiceNotifications: f.notificationsRoutes,
		domain.ServiceIdentity: f.identityRoutes, domain.ServiceMedia: f.mediaRoutes,
	}
	for name, register := range services {
		sub := http.NewServeMux()
		register(sub)
		sub.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotFound, "not_found", "no such resource: "+r.URL.Path)
		})
		mux.Handle("/"+name+"/", f.observe(name, http.StripPrefix("/"+name, sub)))
	}
	mux.HandleFunc("PUT /__faults/{service}", f.putFault)
	mux.HandleFunc("DELETE /__faults/{service}", f.deleteFault)
	mux.HandleFunc("DELETE /__faults", func(w http.ResponseWriter, _ *http.Request) {
		f.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /__events/{userId}", f.postEvent)
	mux.HandleFunc("DELETE /__streams", func(w http.ResponseWriter, _ *http.Request) {
		f.DropStreams()
		w.WriteHeader(http.StatusNoContent)
	})
	// For tests of a running fakes binary, which cannot call UploadData,
	// e.g. that chunks sent through several gateway instances arrived
	// whole and in order.
	mux.HandleFunc("GET /__uploads/{id}/data", func(w http.ResponseWriter, r *http.Request) {
		data, ok := f.UploadData(r.PathValue("id"))
		if !ok {
			writeProblem(w, http.StatusNotFound, "not_found", "no such upload")
			return
		}
		w.Header().Set("Content-Type", octetStream)
		_, _ = w.Write(data)
	})
	mux.HandleFunc("GET /__stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]map[string]int{"requests": f.Stats()})
	})
	mux.HandleFunc("DELETE /__stats", func(w http.ResponseWriter, _ *http.Request) {
		f.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such service: "+r.URL.Path)
	})
	return mux
}

// observe counts the request, records its headers and applies the
// service's fault before the service answers.
func (f *Fakes) observe(service string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests[service]++
		f.headers[service] = r.Header.Clone()
		fault, faulty := f.faults[service]
		fail := faulty && fault.ErrorRate > 0 && f.rnd.Float64() < fault.ErrorRate
		f.mu.Unlock()

		if faulty && fault.LatencyMs > 0 {
			t := time.NewTimer(time.Duration(fault.LatencyMs) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				// The caller gave up; nobody reads an answer.
				t.Stop()
				return
			}
		}
		if faulty && fault.Down {
			hijackAndClose(w)
			return
		}
		if fail {
			status := fault.Status
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			writeProblem(w, status, "fault_injected", fmt.Sprintf("fault injected into %s", service))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hijackAndClose drops the connection without a response, as a crashed
// service would; the caller sees a reset or EOF.
func hijackAndClose(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; aborting the handler resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func (f *Fakes) putFault(w http.ResponseWriter, r *http.Request) {
	service := r.PathValue("service")
	if !slices.Contains(domain.ServiceNames(), service) {
		writeProblem(w, http.StatusNotFound, "not_found", "unknown service "+service)
		return
	}
	var fault domain.Fault
	if err := decodeStrict(r, &fault); err != nil {
		writeProblem(w, http.StatusBadRequest, "validation_failed", err.Error())
		return
	}
	if err := f.SetFault(service, fault); err != nil {
		writeProblem(w, http.StatusBadRequest, "validation_failed", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fakes) deleteFault(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	delete(f.faults, r.PathValue("service"))
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// SetFault makes service misbehave: every request waits LatencyMs, then the
// connection is closed if Down, else a share ErrorRate of requests fails
// with Status (default 503). A Status with a zero ErrorRate fails every
// request: asking for a status says the caller wants failures, and
// `{"status":503}` silently doing nothing would hide a broken test set-up.
// A zero Fault clears it.
func (f *Fakes) SetFault(service string, fault domain.Fault) error {
	if !slices.Contains(domain.ServiceNames(), service) {
		return fmt.Errorf("unknown service %q", service)
	}
	switch {
	case fault.LatencyMs < 0:
		return errors.New("latencyMs must not be negative")
	case fault.ErrorRate < 0 || fault.ErrorRate > 1:
		return errors.New("errorRate must be between 0 and 1")
	case fault.Status != 0 && (fault.Status < 400 || fault.Status > 599):
		return errors.New("status must be between 400 and 599")
	}
	if fault.Status != 0 && fault.ErrorRate == 0 {
		fault.ErrorRate = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault == (domain.Fault{}) {
		delete(f.faults, service)
		return nil
	}
	f.faults[service] = fault
	return nil
}

// ClearFaults removes every fault.
func (f *Fakes) ClearFaults() {
	f.mu.Lock()
	clear(f.faults)
	f.mu.Unlock()
}

// Requests returns how many requests reached service since the last reset,
// failed ones included.
func (f *Fakes) Requests(service string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[service]
}

// Stats returns the request count of every service, zeros included.
func (f *Fakes) Stats() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(domain.ServiceNames()))
	for _, s := range domain.ServiceNames() {
		out[s] = f.requests[s]
	}
	return out
}

// ResetStats zeroes the request counters and forgets the last headers.
func (f *Fakes) ResetStats() {
	f.mu.Lock()
	clear(f.requests)
	clear(f.headers)
	f.mu.Unlock()
}

// LastHeaders returns a copy of the headers of the last request that
// reached service, or nil if none did.
func (f *Fakes) LastHeaders(service string) http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.headers[service].Clone()
}

// writeJSON writes v as application/json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// problemBody is an RFC 9457 problem detail as the domain services send it.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"error"`
}

// writeProblem writes an application/problem+json error.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problemBody{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code})
}

// decodeStrict decodes a JSON body, rejecting unknown fields and trailing
// data. The Content-Type is not checked so that curl -d works in demos.
func decodeStrict(r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("decoding body: %w", err)
	}
	if dec.More() {
		return errors.New("decoding body: trailing data after the JSON value")
	}
	return nil
}
