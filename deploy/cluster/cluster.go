// Package cluster holds the local cluster of make run-cluster: nginx in
// front of two instances of each gateway on one Redis. run.sh starts it
// from the shell; the tests of this package start the same pieces from Go
// (make rolling-restart) or check a running one (make cluster-check).
package cluster

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NginxTemplate is nginx.conf.tmpl, the configuration run.sh fills in.
//
//go:embed nginx.conf.tmpl
var NginxTemplate string

// Gateways are the gateways of the cluster, in the order of their client
// ports (8081, 8082, 8083 by default).
var Gateways = []string{"mobile", "web", "partner"}

// Nginx is what fills the tokens of NginxTemplate.
type Nginx struct {
	// Dir is the run's directory: nginx's prefix, pid and temporary files.
	// Required.
	Dir string
	// Listen maps each gateway to the client port nginx listens on.
	// Required for every gateway.
	Listen map[string]int
	// Upstreams maps each gateway to the public ports of its two
	// instances. Required for every gateway.
	Upstreams map[string][2]int
	// KeepaliveTimeout closes nginx's idle connections to the instances;
	// keep it below the gateways' drain delay. Required.
	KeepaliveTimeout time.Duration
}

var token = regexp.MustCompile(`@[A-Z0-9_]+@`)

// Tokens lists the tokens of NginxTemplate (@DIR@, @MOBILE_1@, ...).
func Tokens() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range token.FindAllString(NginxTemplate, -1) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// Render fills NginxTemplate in, failing on a missing port or a token left
// over.
func (n Nginx) Render() (string, error) {
	if n.Dir == "" || n.KeepaliveTimeout <= 0 {
		return "", fmt.Errorf("cluster: Nginx needs Dir and a positive KeepaliveTimeout")
	}
	pairs := []string{"@DIR@", n.Dir, "@KEEPALIVE@", strconv.FormatInt(n.KeepaliveTimeout.Milliseconds(), 10) + "ms"}
	for _, g := range Gateways {
		up, ok := n.Upstreams[g]
		if n.Listen[g] == 0 || !ok || up[0] == 0 || up[1] == 0 {
			return "", fmt.Errorf("cluster: Nginx needs the listen port and two upstream ports of %s", g)
		}
		G := strings.ToUpper(g)
		pairs = append(pairs, "@"+G+"_PORT@", strconv.Itoa(n.Listen[g]),
			"@"+G+"_1@", strconv.Itoa(up[0]), "@"+G+"_2@", strconv.Itoa(up[1]))
	}
	out := strings.NewReplacer(pairs...).Replace(NginxTemplate)
	if left := token.FindString(out); left != "" {
		return "", fmt.Errorf("cluster: token %s of nginx.conf.tmpl is not filled in", left)
	}
	return out, nil
}
