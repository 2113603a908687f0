package edgetest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel SIGKILL cmd when the test binary dies, even
// by SIGKILL (go test's -timeout, a CI job cut short), where no Cleanup
// runs. Pdeathsig follows the thread that started the child; Go may retire
// that thread earlier only when a goroutine exits while locked to it, which
// the tests do not do.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
