package clientlib

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shared usage-input vectors: the JavaScript package runs the same
// file, so the two clients refuse the same events, as the server does.
func TestUsageInputVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "usage_inputs.json"))
	require.NoError(t, err)
	var f struct {
		Cases []struct {
			Name     string  `json:"name"`
			Feature  string  `json:"feature"`
			Count    float64 `json:"count"`
			Duration float64 `json:"duration_seconds"`
			Valid    bool    `json:"valid"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Greater(t, len(f.Cases), 20)
	for _, c := range f.Cases {
		if c.Count != math.Trunc(c.Count) {
			// Go's int64 count cannot hold it: refused by the type itself.
			assert.False(t, c.Valid, "%s: a fractional count must be refused", c.Name)
			continue
		}
		err := checkUsage(c.Feature, int64(c.Count), time.Duration(c.Duration*float64(time.Second)))
		assert.Equal(t, c.Valid, err == nil, "%s: %v", c.Name, err)
	}
}
