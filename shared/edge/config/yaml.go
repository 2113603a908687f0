package config

import (
	"bytes"
	"errors"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// FileVar names the optional YAML file with settings beyond the environment.
const FileVar = "BFF_CONFIG"

// LoadYAML decodes the file named by BFF_CONFIG into dst, strictly: unknown
// keys and wrong types are errors, so a typo never silently keeps a default.
// Without BFF_CONFIG it does nothing. Keys the file leaves out keep dst's
// values, which is how the file layers over the defaults.
func LoadYAML(lookup Lookup, dst any) error {
	path, ok := lookup(FileVar)
	if !ok || path == "" {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return Errorf(FileVar, "reading %s: %v", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return Errorf(FileVar, "decoding %s: %s", path, oneLine(err))
	}
	return nil
}

// oneLine folds yaml's multi-line errors ("yaml: unmarshal errors:\n  line
// 3: ...") into one line.
func oneLine(err error) string {
	b := []byte(err.Error())
	b = bytes.ReplaceAll(b, []byte(":\n  "), []byte(": "))
	b = bytes.ReplaceAll(b, []byte("\n  "), []byte("; "))
	return string(bytes.ReplaceAll(b, []byte("\n"), []byte("; ")))
}

// Loadable is a whole gateway configuration: it reads its variables from the
// environment and validates itself.
type Loadable interface {
	// ReadEnv reads every variable into the receiver; env collects parse
	// errors.
	ReadEnv(env *Env)
	// Validate reports every remaining problem, joined, each one line naming
	// the variable.
	Validate() error
}

// Load fills dst, which holds the defaults, from the YAML file, then the
// environment, then validates it. The error joins
// every problem, one per line.
func Load(lookup Lookup, dst Loadable) error {
	if err := LoadYAML(lookup, dst); err != nil {
		return err
	}
	env := NewEnv(lookup)
	dst.ReadEnv(env)
	if err := env.Err(); err != nil {
		return err
	}
	return dst.Validate()
}
