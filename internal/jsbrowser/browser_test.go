// Package jsbrowser runs the JavaScript package's renderer-safe entry point
// (clientlib/js/verify.js) in headless Chromium against the shared vectors:
// a sandboxed Electron renderer or a browser verifies as Node and Go do.
package jsbrowser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
)

func TestTheVectorsVerifyInABrowser(t *testing.T) {
	chromium := testenv.Chromium(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	js := filepath.Join(root, "clientlib", "js")
	if _, err := os.Stat(filepath.Join(js, "node_modules", "jose")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			testenv.Missing(t, "npm", "install Node.js 20+ with npm")
			return
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = js
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm ci: %s", out)
	}
	// Only the package, its dependencies and the vectors are served.
	mux := http.NewServeMux()
	for _, dir := range []string{"/clientlib/js/", "/testdata/vectors/"} {
		mux.Handle(dir, http.StripPrefix(dir, http.FileServer(http.Dir(filepath.Join(root, filepath.FromSlash(dir))))))
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A profile removed after Chromium has exited: t.TempDir's cleanup
	// races a browser still writing to it.
	profile, err := os.MkdirTemp("", "licensing-jsbrowser-")
	require.NoError(t, err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(profile))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer func() {
		cancelA() // kills the browser and waits for it
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	defer cancelT()

	var result struct {
		Ran        int      `json:"ran"`
		Failures   []string `json:"failures"`
		HasBuffer  bool     `json:"hasBuffer"`
		HasProcess bool     `json:"hasProcess"`
	}
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/clientlib/js/browser-test/index.html"),
		chromedp.Poll(`window.result`, &result, chromedp.WithPollingTimeout(100*time.Second))))
	assert.Empty(t, result.Failures)
	assert.Greater(t, result.Ran, 120, "every vector and key set ran")
	assert.False(t, result.HasBuffer || result.HasProcess, "a browser, with no Node globals")
}
