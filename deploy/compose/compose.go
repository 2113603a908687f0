// Package compose loads Shopfront's docker-compose files with the
// compose-spec loader (the one docker compose itself uses), so a file that
// docker compose would reject fails offline, and checks the house policy:
// every service has a healthcheck and a pinned image.
package compose

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Load reads the compose file at path strictly: the compose-spec schema
// rejects unknown keys (except x- extensions), and relative paths resolve
// against the file's directory as docker compose resolves them.
func Load(ctx context.Context, path string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		// Interpolation sees no host environment: the file must not depend
		// on whoever runs it.
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("shopfront", true)
		o.ResolvePaths = true
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return p, nil
}

// Check returns every service without an enabled healthcheck or with an
// image that is not pinned to a tag other than latest.
func Check(p *types.Project) error {
	var errs []error
	names := p.ServiceNames()
	slices.Sort(names)
	for _, name := range names {
		s := p.Services[name]
		if hc := s.HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			errs = append(errs, fmt.Errorf("service %s: no healthcheck", name))
		}
		if !pinned(s.Image) {
			errs = append(errs, fmt.Errorf("service %s: image %q is not pinned to a tag other than latest", name, s.Image))
		}
	}
	return errors.Join(errs...)
}

func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(name, ":")
	return i >= 0 && i < len(name)-1 && name[i+1:] != "latest"
}
