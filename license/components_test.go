package license_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
)

type componentVectors struct {
	Values []struct {
		AppID string `json:"app_id"`
		Name  string `json:"name"`
		Raw   string `json:"raw"`
		Value string `json:"value"`
	} `json:"values"`
	Fingerprints []struct {
		Components  license.Components `json:"components"`
		Fingerprint string             `json:"fingerprint"`
	} `json:"fingerprints"`
	Matches []struct {
		Name      string             `json:"name"`
		Need      int                `json:"need"`
		Stored    license.Components `json:"stored"`
		Presented license.Components `json:"presented"`
		Expect    struct {
			Matched, Clone          bool
			Need, Same              int
			Changed, Added, Removed []string
		} `json:"expect"`
	} `json:"matches"`
}

// The shared vectors (testdata/vectors/components.json), which the
// JavaScript package runs too: the same salted values, fingerprints and
// matching answers.
func TestComponentVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "components.json"))
	require.NoError(t, err)
	var v componentVectors
	require.NoError(t, json.Unmarshal(raw, &v))
	require.NotEmpty(t, v.Matches)
	for _, x := range v.Values {
		assert.Equal(t, x.Value, license.ComponentValue(x.AppID, x.Name, x.Raw), "%s %q", x.Name, x.Raw)
	}
	for _, x := range v.Fingerprints {
		require.NoError(t, license.CheckComponents(x.Components))
		assert.Equal(t, x.Fingerprint, x.Components.Fingerprint())
	}
	for _, x := range v.Matches {
		t.Run(x.Name, func(t *testing.T) {
			m := license.MatchComponents(x.Stored, x.Presented, x.Need)
			assert.Equal(t, x.Expect.Matched, m.Matched, "matched")
			assert.Equal(t, x.Expect.Clone, m.Clone, "clone")
			assert.Equal(t, x.Expect.Need, m.Need, "need")
			assert.Len(t, m.Same, x.Expect.Same, "same")
			assert.Equal(t, x.Expect.Changed, nonNil(m.Changed), "changed")
			assert.Equal(t, x.Expect.Added, nonNil(m.Added), "added")
			assert.Equal(t, x.Expect.Removed, nonNil(m.Removed), "removed")
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestCheckComponentsRefusesWhatIsNotAComponentSet(t *testing.T) {
	h := license.ComponentValue("app", "disk", "x")
	for name, c := range map[string]license.Components{
		"no machine id":  {"disk": h},
		"unknown name":   {"machine_id": h, "serial": h},
		"raw value":      {"machine_id": "4c4c4544004d3510804ac4c04f4b4d32"},
		"uppercase hash": {"machine_id": "ABCDEF" + h[6:]},
	} {
		assert.Error(t, license.CheckComponents(c), name)
	}
	assert.NoError(t, license.CheckComponents(license.Components{"machine_id": h, "mac": h}))
}
