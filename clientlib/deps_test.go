package clientlib_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientLinksNoServerCode keeps the dependency direction: an app that
// links clientlib must not pull in the router, the PostgreSQL driver, HTML
// templates or any server package.
func TestClientLinksNoServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages; want the full dependency list", len(deps))
	}
	forbidden := []string{
		"github.com/go-chi/", "github.com/jackc/pgx", "html/template",
		"github.com/flowlytix/licensing/syncserver", "github.com/flowlytix/licensing/admin",
		"github.com/flowlytix/licensing/issuer", "github.com/flowlytix/licensing/cmd/",
		"github.com/flowlytix/licensing/internal/",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("clientlib depends on %s; the client library must not link server code", d)
			}
		}
	}
}
