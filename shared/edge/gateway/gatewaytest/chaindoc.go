package gatewaytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/server"
)

// ChainDoc is the repository file that shows each gateway's edge chain,
// relative to the repository root (the directory holding go.work).
const ChainDoc = "docs/chain.md"

// UpdateEnv names the environment variable that makes CheckChainDoc
// rewrite a stale section of ChainDoc instead of failing.
const UpdateEnv = "SHOPFRONT_UPDATE_CHAIN_DOC"

// CheckChainDoc fails t unless the section of ChainDoc named section (the
// fenced block between `<!-- chain:<section> -->` and
// `<!-- /chain:<section> -->`) is server.Describe(layers): the document is
// generated from the chain the code installs, and this keeps the two
// from drifting. On a mismatch the message holds the block to paste; with
// UpdateEnv set to 1 the section is rewritten in place instead (run the
// chain tests once that way after changing the chain: make chain-doc).
func CheckChainDoc(t testing.TB, section string, layers []server.SlotLayer) {
	t.Helper()
	path := filepath.Join(repoRoot(t), ChainDoc)
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	want := server.Describe(layers)
	got, ok := chainSection(string(doc), section)
	if os.Getenv(UpdateEnv) == "1" && ok && got != want {
		updated := strings.Replace(string(doc), ChainSection(section, got), ChainSection(section, want), 1)
		require.NoError(t, os.WriteFile(path, []byte(updated), 0o644))
		return
	}
	require.Truef(t, ok, "%s has no section %q; add:\n\n%s", ChainDoc, section, ChainSection(section, want))
	require.Equalf(t, want, got, "%s's section %q differs from the chain the code installs; replace it with:\n\n%s",
		ChainDoc, section, ChainSection(section, want))
}

// ChainSection is the text of ChainDoc's section for a description made by
// server.Describe.
func ChainSection(section, description string) string {
	return "<!-- chain:" + section + " -->\n```text\n" + description + "```\n<!-- /chain:" + section + " -->\n"
}

func chainSection(doc, section string) (string, bool) {
	open, end := "<!-- chain:"+section+" -->\n```text\n", "```\n<!-- /chain:"+section+" -->"
	_, rest, ok := strings.Cut(doc, open)
	if !ok {
		return "", false
	}
	body, _, ok := strings.Cut(rest, end)
	return body, ok
}

// repoRoot is the nearest directory above the working directory that holds
// go.work.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.work above the working directory")
		dir = parent
	}
}
