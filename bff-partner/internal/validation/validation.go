// Package validation checks partner requests against the partner OpenAPI
// document (contracts/public/partner.yaml) before they reach a handler:
// unknown fields, unknown query parameters, wrong types and
// missing values give 400 validation_failed listing every problem with its
// JSON path; a body over the cap gives 413 payload_too_large; a body that is
// not JSON gives 415 unsupported_media_type.
//
// The verdicts and error lists are kin-openapi's
// (openapi3filter.ValidateRequest with MultiError), confirmed for valid
// requests by the same schemas compiled once (see operation); this package
// finds the operation from echo's route, enforces what the document cannot
// say (the media type before parsing, the size cap, unknown query
// parameters) and turns kin-openapi's errors into problem+json.
package validation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/jsonscan"
	"github.com/shopfront/shared/edge/problem"
)

// Config configures the validation middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Document is the OpenAPI document requests are checked against; its
	// references must be resolved (public.Load does). Required.
	Document *openapi3.T
	// MaxBodyBytes caps request bodies. Optional. Default config.DefaultBodyLimit.
	MaxBodyBytes int64
}

// ToMiddleware returns the middleware. Requests whose echo route has no
// operation in the document pass through untouched.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Document == nil {
		return nil, errors.New("validation: Document is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = config.DefaultBodyLimit
	}
	if c.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("validation: MaxBodyBytes %d is negative", c.MaxBodyBytes)
	}
	opts := &openapi3filter.Options{
		MultiError: true,
		// Credentials are checked by the auth middleware before this one.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// Handlers apply their own defaults; the request stays as sent.
		SkipSettingDefaults: true,
	}
	paramsOnly := *opts
	paramsOnly.ExcludeRequestBody = true
	ops, err := compileOperations(c.Document)
	if err != nil {
		return nil, err
	}
	routes := resolveRoutes(c.Document, ops)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			r, ok := routes[ec.Path()][ec.Request().Method]
			if !ok {
				return next(ec)
			}
			if err := c.check(ec, r.route, opts, &paramsOnly, r.op); err != nil {
				return err
			}
			return next(ec)
		}
	}, nil
}

// resolved is the document's operation for one echo route and method.
type resolved struct {
	route *routers.Route
	op    *operation
}

// resolveRoutes finds every operation of the document once, keyed by echo
// route (GET /v2/products/:id for the template /v2/products/{id}) and then
// method, so a request finds its own with two map look-ups and no
// allocation. kin-openapi does not mutate a Route while validating, so one
// is shared by all requests.
func resolveRoutes(doc *openapi3.T, ops map[string]*operation) map[string]map[string]resolved {
	out := map[string]map[string]resolved{}
	for path, item := range doc.Paths.Map() {
		byMethod := map[string]resolved{}
		for method, op := range item.Operations() {
			byMethod[method] = resolved{
				route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
				op:    ops[method+" "+path],
			}
		}
		out[echoPath(path)] = byMethod
	}
	return out
}

// echoPath turns an OpenAPI path template into echo's route syntax.
func echoPath(template string) string {
	segs := strings.Split(template, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}

// operation holds what is compiled once per operation of the document.
//
// kin-openapi compiles a 3.1 schema again on every call (most of the cost
// of a request, see BenchmarkValidate). A valid request, the common case,
// is confirmed here by schemas compiled once — with the JSON Schema 2020-12
// library kin-openapi itself uses, on the same schemas — and only a request
// this fast path does not accept goes through kin-openapi, which then
// decides and lists the problems. The fast path may refuse more than
// kin-openapi (it then defers to it) but never accepts more.
type operation struct {
	body *jsonschema.Schema
	// scan is what the body may hold, checked in one cheap pass before
	// either schema library reads it (see jsonscan).
	scan   jsonscan.Limits
	params []param
	// fastParams is false when a parameter is not a plain scalar, so every
	// request of the operation goes through kin-openapi.
	fastParams bool
	// query are the names of the query parameters.
	query map[string]bool
}

type param struct {
	in, name string
	required bool
	typ      string
	schema   *jsonschema.Schema
}

func compileOperations(doc *openapi3.T) (map[string]*operation, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("validation: encoding the document: %w", err)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("validation: decoding the document: %w", err)
	}
	const base = "urn:shopfront:openapi.json"
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	if err := comp.AddResource(base, parsed); err != nil {
		return nil, fmt.Errorf("validation: adding the document: %w", err)
	}
	out := map[string]*operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{fastParams: true, query: map[string]bool{}}
			opPtr := []string{"paths", path, strings.ToLower(method)}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				if mt := rb.Value.Content.Get(echo.MIMEApplicationJSON); mt != nil && mt.Schema != nil && rb.Ref == "" {
					sch, err := comp.Compile(base + "#" + pointer(append(opPtr, "requestBody", "content", echo.MIMEApplicationJSON, "schema")))
					if err != nil {
						return nil, fmt.Errorf("validation: compiling the body schema of %s %s: %w", method, path, err)
					}
					o.body = sch
					o.scan.MaxItems = map[string]int{}
					arrayCaps(mt.Schema, "", o.scan.MaxItems, 0)
				}
			}
			add := func(list openapi3.Parameters, at []string) error {
				for i, ref := range list {
					p := ref.Value
					if p == nil {
						continue
					}
					if p.In == openapi3.ParameterInQuery {
						o.query[p.Name] = true
					}
					typ := ""
					if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type != nil && len(*p.Schema.Value.Type) == 1 {
						typ = (*p.Schema.Value.Type)[0]
					}
					if p.Content != nil || (typ != "string" && typ != "integer") || p.In == openapi3.ParameterInCookie {
						o.fastParams = false
						continue
					}
					loc := append(append([]string{}, at...), strconv.Itoa(i), "schema")
					if ref.Ref != "" {
						loc = append(refPointer(ref.Ref), "schema")
					}
					sch, err := comp.Compile(base + "#" + pointer(loc))
					if err != nil {
						return fmt.Errorf("validation: compiling parameter %s of %s %s: %w", p.Name, method, path, err)
					}
					o.params = append(o.params, param{in: p.In, name: p.Name, required: p.Required, typ: typ, schema: sch})
				}
				return nil
			}
			if err := add(item.Parameters, []string{"paths", path, "parameters"}); err != nil {
				return nil, err
			}
			if err := add(op.Parameters, append(opPtr, "parameters")); err != nil {
				return nil, err
			}
			out[method+" "+path] = o
		}
	}
	return out, nil
}

// arrayCaps records in caps the maxItems of every array of the schema s
// found at the JSON Pointer template ptr ("*" for array indices), through
// properties and items. Under a composition the largest cap is kept, so
// the scan never refuses what the document accepts; recursion stops at
// the scan's depth limit.
func arrayCaps(s *openapi3.SchemaRef, ptr string, caps map[string]int, depth int) {
	if s == nil || s.Value == nil || depth > jsonscan.DefaultMaxDepth {
		return
	}
	v := s.Value
	if v.MaxItems != nil && *v.MaxItems < math.MaxInt32 {
		if n, ok := caps[ptr]; !ok || int(*v.MaxItems) > n {
			caps[ptr] = int(*v.MaxItems)
		}
	}
	for name, p := range v.Properties {
		arrayCaps(p, ptr+"/"+pointer([]string{name})[1:], caps, depth+1)
	}
	arrayCaps(v.Items, ptr+"/*", caps, depth+1)
	for _, list := range []openapi3.SchemaRefs{v.AllOf, v.AnyOf, v.OneOf} {
		for _, sub := range list {
			arrayCaps(sub, ptr, caps, depth+1)
		}
	}
}

// refPointer turns "#/components/parameters/Page" into its tokens.
func refPointer(ref string) []string {
	tokens := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	for i, t := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens
}

// paramsValid reports whether the fast path accepts every parameter.
func (o *operation) paramsValid(ec echo.Context) bool {
	if !o.fastParams {
		return false
	}
	req := ec.Request()
	query := req.URL.Query()
	for _, p := range o.params {
		var vals []string
		switch p.in {
		case openapi3.ParameterInQuery:
			vals = query[p.name]
		case openapi3.ParameterInHeader:
			vals = req.Header.Values(p.name)
		case openapi3.ParameterInPath:
			if v := ec.Param(p.name); v != "" {
				vals = []string{v}
			}
		}
		if len(vals) == 0 {
			if p.required {
				return false
			}
			continue
		}
		if len(vals) > 1 {
			return false
		}
		var v any = vals[0]
		if p.typ == "integer" {
			n, err := strconv.ParseInt(vals[0], 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != vals[0] {
				return false // not the plain form: kin-openapi decides.
			}
			v = json.Number(vals[0])
		}
		if p.schema.Validate(v) != nil {
			return false
		}
	}
	return true
}

func (c Config) check(ec echo.Context, route *routers.Route, opts, paramsOnly *openapi3filter.Options, o *operation) error {
	req := ec.Request()
	// A path parameter that would walk an upstream's paths is refused
	// whatever the document's pattern allows.
	var walks []input.FieldError
	for i, name := range ec.ParamNames() {
		if input.TraversalSegment(ec.ParamValues()[i]) {
			walks = append(walks, input.FieldError{In: input.InPath, Path: name, Message: `must not be "." or ".." or contain "/" or "\"`})
		}
	}
	if len(walks) > 0 {
		return problem.ValidationFailed(fmt.Sprintf("The request does not match the API description: %d problem(s).", len(walks))).With("errors", walks)
	}
	op := route.Operation
	bodyOK := op.RequestBody == nil || op.RequestBody.Value == nil
	if !bodyOK {
		raw, err := c.readBody(req)
		if err != nil {
			return err
		}
		var limits jsonscan.Limits
		if o != nil {
			limits = o.scan
		}
		if probs := jsonscan.Check(raw, limits); len(probs) > 0 {
			list := input.BodyErrors(probs)
			detail := fmt.Sprintf("The request does not match the API description: %d problem(s).", len(list))
			return problem.ValidationFailed(detail).With("errors", list)
		}
		if o != nil && o.body != nil && len(raw) > 0 {
			if v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw)); err == nil && o.body.Validate(v) == nil {
				bodyOK, opts = true, paramsOnly
			}
		}
	}

	var list []input.FieldError
	for name := range req.URL.Query() {
		if o == nil || !o.query[name] {
			list = append(list, input.FieldError{In: openapi3.ParameterInQuery, Path: name, Message: "unknown query parameter"})
		}
	}
	if len(list) == 0 && bodyOK && o != nil && o.paramsValid(ec) {
		return nil
	}

	params := map[string]string{}
	for i, name := range ec.ParamNames() {
		params[name] = ec.ParamValues()[i]
	}
	err := openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route, Options: opts,
	})
	if err != nil {
		var flat []input.FieldError
		collect(err, &flat)
		list = append(list, flat...)
	}
	if len(list) == 0 {
		return nil
	}
	order := map[string]int{"header": 0, "path": 1, "query": 2, "body": 3}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].In != list[j].In {
			return order[list[i].In] < order[list[j].In]
		}
		return list[i].Path < list[j].Path
	})
	if len(list) > input.MaxFieldErrors {
		list = list[:input.MaxFieldErrors]
	}
	detail := fmt.Sprintf("The request does not match the API description: %d problem(s).", len(list))
	return problem.ValidationFailed(detail).With("errors", list)
}

// readBody enforces the media type and the size cap, then puts the read
// body back for kin-openapi and the handler and returns it.
func (c Config) readBody(req *http.Request) ([]byte, error) {
	hasBody := req.ContentLength > 0 || (req.ContentLength < 0 && req.Body != nil && req.Body != http.NoBody)
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" || hasBody {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return nil, problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMediaType,
				"Request bodies must be application/json.").WithHeader("Accept-Post", echo.MIMEApplicationJSON)
		}
	}
	if req.ContentLength > c.MaxBodyBytes {
		return nil, tooLarge(c.MaxBodyBytes)
	}
	if req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, c.MaxBodyBytes+1))
	_ = req.Body.Close()
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(len(b)) > c.MaxBodyBytes {
		return nil, tooLarge(c.MaxBodyBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

func tooLarge(limit int64) *problem.Problem {
	return problem.New(http.StatusRequestEntityTooLarge, problem.CodePayloadTooLarge,
		fmt.Sprintf("The request body is larger than %d bytes.", limit))
}

// FindRoute returns the document's operation for an echo route such as
// GET /v2/products/:id (the template /v2/products/{id}). It resolves the
// route on every call; the middleware resolves each route once at start.
func FindRoute(doc *openapi3.T, method, echoPath string) (*routers.Route, bool) {
	if doc == nil || doc.Paths == nil {
		return nil, false
	}
	segs := strings.Split(echoPath, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	path := strings.Join(segs, "/")
	item := doc.Paths.Value(path)
	if item == nil {
		return nil, false
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, false
	}
	return &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}, true
}

// ValidateResponse checks a response against the document: status, headers
// and body. Tests use it to keep the gateway and its published contract in
// step.
func ValidateResponse(ctx context.Context, doc *openapi3.T, req *http.Request, echoPath string, status int,
	header http.Header, body []byte,
) error {
	route, ok := FindRoute(doc, req.Method, echoPath)
	if !ok {
		return fmt.Errorf("no operation %s %s in the document", req.Method, echoPath)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.Options.SchemaValidationOptions = []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()}
	return openapi3filter.ValidateResponse(ctx, in)
}

// collect flattens kin-openapi's error tree into field errors.
func collect(err error, out *[]input.FieldError) {
	// A direct type check: a RequestError unwraps to its own MultiError of
	// schema errors, which must stay below the RequestError that locates them.
	if me, ok := err.(openapi3.MultiError); ok { //nolint:errorlint // see above
		for _, e := range me {
			collect(e, out)
		}
		return
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		*out = append(*out, input.FieldError{In: "body", Path: "", Message: "is invalid"})
		return
	}
	switch {
	case re.Parameter != nil:
		*out = append(*out, input.FieldError{In: re.Parameter.In, Path: re.Parameter.Name,
			Message: paramMessage(re, re.Parameter.Schema)})
	case re.RequestBody != nil:
		var inner openapi3.MultiError
		if errors.As(re.Err, &inner) {
			for _, e := range inner {
				*out = append(*out, bodyError(e))
			}
			return
		}
		if re.Err == nil {
			// "value is required but missing" and similar reasons about the whole body.
			*out = append(*out, input.FieldError{In: "body", Path: "", Message: clean(re.Reason)})
			return
		}
		*out = append(*out, bodyError(re.Err))
	default:
		*out = append(*out, input.FieldError{In: "body", Path: "", Message: clean(re.Reason)})
	}
}

func bodyError(err error) input.FieldError {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		path := se.JSONPointer()
		msg := schemaMessage(se)
		if m := unsupported.FindStringSubmatch(se.Reason); m != nil {
			path, msg = append(path, m[1]), "unknown field"
		}
		return input.FieldError{In: "body", Path: pointer(path), Message: msg}
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		return input.FieldError{In: "body", Path: "", Message: "is not valid JSON"}
	}
	return input.FieldError{In: "body", Path: "", Message: clean(err.Error())}
}

var unsupported = regexp.MustCompile(`^property "(.*)" is unsupported$`)

func paramMessage(re *openapi3filter.RequestError, schema *openapi3.SchemaRef) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return schemaMessage(se)
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) && schema != nil && schema.Value != nil {
		return "must be " + typeName(schema.Value.Type)
	}
	if re.Err != nil && strings.Contains(re.Err.Error(), "required") {
		return "is required"
	}
	if re.Reason != "" {
		return clean(re.Reason)
	}
	return "is invalid"
}

func schemaMessage(se *openapi3.SchemaError) string {
	s := se.Schema
	if s == nil {
		return clean(se.Reason)
	}
	num := func(p *float64) string {
		if p == nil {
			return "?"
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	switch se.SchemaField {
	case "type":
		return "must be " + typeName(s.Type)
	case "required":
		return "is required"
	case "minimum":
		return "must be at least " + num(s.Min)
	case "maximum":
		return "must be at most " + num(s.Max)
	case "pattern":
		return "must match " + s.Pattern
	case "minLength":
		return fmt.Sprintf("must be at least %d characters long", s.MinLength)
	case "maxLength":
		if s.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters long", *s.MaxLength)
		}
	case "minItems":
		return fmt.Sprintf("must have at least %d items", s.MinItems)
	case "maxItems":
		if s.MaxItems != nil {
			return fmt.Sprintf("must have at most %d items", *s.MaxItems)
		}
	case "enum":
		vals := make([]string, 0, len(s.Enum))
		for _, v := range s.Enum {
			vals = append(vals, fmt.Sprint(v))
		}
		return "must be one of " + strings.Join(vals, ", ")
	}
	return clean(se.Reason)
}

func typeName(t *openapi3.Types) string {
	if t == nil || len(*t) == 0 {
		return "valid"
	}
	switch (*t)[0] {
	case "integer", "object", "array":
		return "an " + (*t)[0]
	default:
		return "a " + (*t)[0]
	}
}

// clean keeps the last, most specific line of a JSON Schema validator
// message, which otherwise names an internal schema URL.
func clean(reason string) string {
	if i := strings.LastIndex(reason, "\n- at '"); i >= 0 {
		reason = reason[i+len("\n- at '"):]
		if j := strings.Index(reason, "': "); j >= 0 {
			reason = reason[j+3:]
		}
	}
	if reason == "" {
		return "is invalid"
	}
	return reason
}

// pointer encodes tokens as an RFC 6901 JSON Pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
