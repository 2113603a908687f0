//go:build clustercheck

package cluster_test

import "testing"

// TestClusterCheck proves, against a running make run-cluster, that the two
// instances of each gateway act as one: each point goes through nginx and
// is then verified on each instance's own port.
func TestClusterCheck(t *testing.T) {
	checkAll(t, readCluster(t, ""))
}
