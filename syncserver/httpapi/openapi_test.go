package httpapi_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/flowlytix/licensing/syncserver/httpapi"
)

// TestOpenAPIDescribesEveryRoute fails when the router serves a route that
// docs/openapi.yaml lacks, or the spec names one the router does not serve.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	data, err := os.ReadFile("../../docs/openapi.yaml")
	require.NoError(t, err)
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(data, &spec))
	documented := map[string]bool{}
	for path, ops := range spec.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	s := newServer(t, backends[0].open(t), httpapi.Limits{})
	served := map[string]bool{}
	for _, r := range s.api.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if strings.HasPrefix(path, "/admin") { // the web admin: pages, not API
			continue
		}
		served[method+" "+strings.TrimSuffix(path, "/")] = true
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "routes the spec lacks")
	assert.Empty(t, extra, "routes the spec names that nothing serves")
	assert.GreaterOrEqual(t, len(served), 25)
}
