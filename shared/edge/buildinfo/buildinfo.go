// Package buildinfo says which build of a gateway is running: its version,
// VCS revision and Go version, read from the binary's embedded build
// information (runtime/debug.ReadBuildInfo), for --version, the admin
// /version endpoint, the shopfront_build_info metric and the service.version
// of traces.
package buildinfo

import (
	"encoding/json"
	"net/http"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Unknown stands for a field the build did not record, e.g. the revision of
// a binary built with -buildvcs=false or outside a repository.
const Unknown = "unknown"

// Info identifies a build.
type Info struct {
	// Name is the gateway's name, e.g. bff-web.
	Name string `json:"name"`
	// Version is the main module's version: a tag for `go install m@v`,
	// a pseudo-version or "(devel)" for a build from a work tree.
	Version string `json:"version"`
	// Revision is the VCS commit, with "-dirty" when the tree had changes.
	Revision string `json:"revision"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// Read returns the build information of the running binary for name.
func Read(name string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Name: name, Version: Unknown, Revision: Unknown, GoVersion: Unknown}
	}
	return FromBuildInfo(name, bi)
}

// FromBuildInfo extracts Info from bi.
func FromBuildInfo(name string, bi *debug.BuildInfo) Info {
	info := Info{Name: name, Version: bi.Main.Version, Revision: Unknown, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = Unknown
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && info.Revision != Unknown {
		info.Revision += "-dirty"
	}
	return info
}

// ServiceVersion is the service.version of traces: the version, or the
// revision for a build from a work tree, whose version says only
// "(devel)".
func (i Info) ServiceVersion() string {
	if (i.Version == "(devel)" || i.Version == Unknown) && i.Revision != Unknown {
		return i.Revision
	}
	return i.Version
}

// String is the --version line, e.g.
// "bff-web (devel) revision 1a2b3c go1.26.8".
func (i Info) String() string {
	return i.Name + " " + i.Version + " revision " + i.Revision + " " + i.GoVersion
}

// Collector returns the gauge shopfront_build_info{version, revision,
// goversion} 1, the usual way to put a build's identity next to its
// metrics (joined on instance in queries).
func (i Info) Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "shopfront_build_info",
		Help:        "The running build: version, VCS revision and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}

// Handler serves i as JSON {name, version, revision, goVersion}.
func (i Info) Handler() http.Handler {
	body, _ := json.Marshal(i)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}
