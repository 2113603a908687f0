//go:build !linux

package edgetest

import "os/exec"

// setDeathSignal does nothing where the kernel has no parent-death signal;
// Cleanup still stops the server when the test ends normally.
func setDeathSignal(*exec.Cmd) {}
