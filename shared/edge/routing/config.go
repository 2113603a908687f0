package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/shopfront/contracts/domain"
)

// The sticky modes of a service.
const (
	// StickyUser keeps one caller on one variant: partner id for partner
	// callers, else the user id, else the client IP.
	StickyUser = "user"
	// StickyNone picks a variant per call by weight.
	StickyNone = "none"
)

// MaxWeight bounds one variant's weight, so a sum never overflows and a
// typo of a few extra digits is caught.
const MaxWeight = 1_000_000

// Config is the `routing` section of the BFF_CONFIG file: the variants of
// each domain service. A service left out has one variant, named
// upstream.DefaultVariant, at its BFF_UPSTREAM_<SERVICE>_URL.
type Config struct {
	Catalog         *Service `yaml:"catalog"`
	Inventory       *Service `yaml:"inventory"`
	Pricing         *Service `yaml:"pricing"`
	Reviews         *Service `yaml:"reviews"`
	Recommendations *Service `yaml:"recommendations"`
	Users           *Service `yaml:"users"`
	Orders          *Service `yaml:"orders"`
	Cart            *Service `yaml:"cart"`
	Payments        *Service `yaml:"payments"`
	Notifications   *Service `yaml:"notifications"`
	Identity        *Service `yaml:"identity"`
	Media           *Service `yaml:"media"`
}

// Service is the routing of one domain service.
type Service struct {
	// Sticky is StickyUser or StickyNone. Optional. Default StickyUser.
	Sticky string `yaml:"sticky"`
	// Fallback names the variant that takes the calls of a variant whose
	// breaker is open. Optional. Default none: such calls fail with 503.
	Fallback string `yaml:"fallback"`
	// Hedge sends a second copy of a GET that has not answered within the
	// variant's observed p95 (at most 5 % of calls). Optional. Default false.
	Hedge bool `yaml:"hedge"`
	// Variants are the deployments calls are shared between. Optional.
	// Default one variant named upstream.DefaultVariant at the service's
	// URL, for a service listed only to turn Hedge on.
	Variants []Variant `yaml:"variants"`
}

// Variant is one deployment of a service.
type Variant struct {
	// Name names the variant in metrics, logs and the pin header, e.g.
	// "stable" or "canary". Required: lower-case letters, digits, '-' and
	// '_', at most 32.
	Name string `yaml:"name"`
	// Weight is the variant's share over the sum of the service's weights.
	// Required: 0 to MaxWeight (0 takes a variant out of rotation while
	// keeping it for pins and as a fallback).
	Weight int `yaml:"weight"`
	// URL is the variant's base URL. Optional. Default the service's
	// BFF_UPSTREAM_<SERVICE>_URL.
	URL string `yaml:"url"`
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// entry is one service's name and routing.
type entry struct {
	name string
	svc  *Service
}

// entries lists the services in the documented order.
func (c *Config) entries() []entry {
	return []entry{
		{domain.ServiceCatalog, c.Catalog}, {domain.ServiceInventory, c.Inventory},
		{domain.ServicePricing, c.Pricing}, {domain.ServiceReviews, c.Reviews},
		{domain.ServiceRecommendations, c.Recommendations}, {domain.ServiceUsers, c.Users},
		{domain.ServiceOrders, c.Orders}, {domain.ServiceCart, c.Cart},
		{domain.ServicePayments, c.Payments}, {domain.ServiceNotifications, c.Notifications},
		{domain.ServiceIdentity, c.Identity}, {domain.ServiceMedia, c.Media},
	}
}

// service returns the routing of the named service, nil when it has none.
func (c *Config) service(name string) *Service {
	for _, e := range c.entries() {
		if e.name == name {
			return e.svc
		}
	}
	return nil
}

// Validate reports every problem, one line each, naming its key as in the
// file (routing.catalog.variants[1].weight).
func (c Config) Validate() error {
	var errs []error
	for _, e := range c.entries() {
		if e.svc == nil {
			continue
		}
		prefix := "routing." + e.name
		fail := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s%s: %s", prefix, key, fmt.Sprintf(format, args...)))
		}
		s := e.svc
		switch s.Sticky {
		case "", StickyUser, StickyNone:
		default:
			fail(".sticky", "%q is not one of user, none", s.Sticky)
		}
		if len(s.Variants) == 0 {
			if s.Fallback != "" {
				fail(".fallback", "%q names no variant: the service has none listed", s.Fallback)
			}
			continue
		}
		seen := map[string]bool{}
		sum := 0
		for i, v := range s.Variants {
			key := fmt.Sprintf(".variants[%d]", i)
			switch {
			case !namePattern.MatchString(v.Name):
				fail(key+".name", "%q must be 1-32 of a-z, 0-9, '-', '_', starting with a letter or digit", v.Name)
			case seen[v.Name]:
				fail(key+".name", "%q is listed twice", v.Name)
			}
			seen[v.Name] = true
			if v.Weight < 0 || v.Weight > MaxWeight {
				fail(key+".weight", "%d must be between 0 and %d", v.Weight, MaxWeight)
			} else {
				sum += v.Weight
			}
			if v.URL != "" {
				if err := checkURL(v.URL); err != nil {
					fail(key+".url", "%v", err)
				}
			}
		}
		if sum == 0 {
			fail(".variants", "the weights must have a positive sum")
		}
		if s.Fallback != "" && !seen[s.Fallback] {
			fail(".fallback", "%q is not one of the variants", s.Fallback)
		}
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute http(s) base URL without query or fragment;
// the URL itself is not echoed beyond its scheme problems, since base URLs
// may carry credentials.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a valid URL")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("must be an absolute http(s) URL")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	case u.User != nil:
		return errors.New("must not carry credentials")
	}
	return nil
}

// ParseFile extracts and validates the routing section of a whole BFF_CONFIG
// file. The other sections are not looked at: only routing is reloaded at
// run time, and the rest was checked, strictly, at start-up. The routing
// section itself is decoded as strictly as at start-up.
func ParseFile(data []byte) (Config, error) {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("decoding: %s", oneLine(err))
	}
	var c Config
	node, ok := doc["routing"]
	if !ok {
		return c, nil
	}
	raw, err := yaml.Marshal(&node)
	if err != nil {
		return Config{}, fmt.Errorf("decoding routing: %s", oneLine(err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("decoding routing: %s", oneLine(err))
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// oneLine folds yaml's multi-line errors into one line.
func oneLine(err error) string {
	b := []byte(err.Error())
	b = bytes.ReplaceAll(b, []byte(":\n  "), []byte(": "))
	b = bytes.ReplaceAll(b, []byte("\n  "), []byte("; "))
	return string(bytes.ReplaceAll(b, []byte("\n"), []byte("; ")))
}
