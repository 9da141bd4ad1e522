package clientlib_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// vectorsDir holds the vectors the JavaScript package runs too.
const vectorsDir = "../testdata/vectors"

type manifest struct {
	FormatVersion int    `json:"format_version"`
	JWKS          string `json:"jwks"`
	RootJWKS      string `json:"root_jwks"`
	Vectors       []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		File        string `json:"file"`
		Now         time.Time
		DeviceID    string `json:"device_id"`
		Fingerprint string `json:"fingerprint"`
		Trust       string `json:"trust"`
		Product     string `json:"product"`
		State       struct {
			LatestTrustedTime *time.Time             `json:"latest_trusted_time"`
			LastSync          *time.Time             `json:"last_sync"`
			Revocations       []clientlib.Revocation `json:"revocations"`
			KeyRevocations    []string               `json:"key_revocations"`
		} `json:"state"`
		Expect struct {
			Status             string          `json:"status"`
			DaysRemaining      int             `json:"days_remaining"`
			InGrace            bool            `json:"in_grace"`
			GraceDaysRemaining int             `json:"grace_days_remaining"`
			Claims             json.RawMessage `json:"claims"`
		} `json:"expect"`
	} `json:"vectors"`
	RevocationLists []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		File        string `json:"file"`
		Accept      bool   `json:"accept"`
		Entries     int    `json:"entries"`
	} `json:"revocation_lists"`
}

func loadManifest(t *testing.T) (*manifest, *keys.Set) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, "manifest.json"))
	require.NoError(t, err, "regenerate with: make vectors")
	var m manifest
	require.NoError(t, json.Unmarshal(data, &m))
	require.Equal(t, 1, m.FormatVersion)
	jwks, err := os.ReadFile(filepath.Join(vectorsDir, m.JWKS))
	require.NoError(t, err)
	ks, err := keys.ParseJWKS(jwks)
	require.NoError(t, err)
	return &m, ks
}

func TestEveryVectorGetsItsExpectedOutcome(t *testing.T) {
	m, ks := loadManifest(t)
	require.NotEmpty(t, m.Vectors)
	for _, v := range m.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(vectorsDir, v.File))
			require.NoError(t, err)
			opts := clientlib.VerifyOptions{Keys: ks, Now: v.Now, DeviceID: v.DeviceID, Fingerprint: v.Fingerprint, Product: v.Product}
			if v.Trust == "root" {
				js, err := os.ReadFile(filepath.Join(vectorsDir, m.RootJWKS))
				require.NoError(t, err)
				rs, err := keys.ParseJWKS(js)
				require.NoError(t, err)
				opts.Keys, opts.Roots = nil, license.NewRoots(rs)
				for _, stmt := range v.State.KeyRevocations {
					opts.Roots.Revoke(stmt) // one a root did not sign revokes nothing
				}
			}
			if v.State.LatestTrustedTime != nil {
				opts.State.LatestTrustedTime = *v.State.LatestTrustedTime
			}
			if v.State.LastSync != nil {
				opts.State.LastSync = *v.State.LastSync
			}
			opts.State.Revocations = v.State.Revocations

			res := clientlib.Verify(file, opts)
			require.Equal(t, v.Expect.Status, string(res.Status), "%s; reason: %s", v.Description, res.Reason)
			if res.Status == clientlib.StatusInvalid {
				assert.Nil(t, res.Claims)
				return
			}
			assert.Equal(t, v.Expect.DaysRemaining, res.DaysRemaining, "days_remaining")
			assert.Equal(t, v.Expect.InGrace, res.InGrace, "in_grace")
			assert.Equal(t, v.Expect.GraceDaysRemaining, res.GraceDaysRemaining, "grace_days_remaining")
			got, err := json.Marshal(res.Claims)
			require.NoError(t, err)
			assert.JSONEq(t, string(v.Expect.Claims), string(got))
		})
	}
}

func TestTheVectorsCoverEveryOutcome(t *testing.T) {
	m, _ := loadManifest(t)
	seen := map[string]int{}
	for _, v := range m.Vectors {
		seen[v.Expect.Status]++
	}
	for _, s := range []clientlib.Status{
		clientlib.StatusValid, clientlib.StatusGrace, clientlib.StatusExpired, clientlib.StatusNotYetValid,
		clientlib.StatusCheckInRequired, clientlib.StatusRevoked, clientlib.StatusDeviceMismatch,
		clientlib.StatusClockTampered, clientlib.StatusInvalid,
	} {
		assert.Positive(t, seen[string(s)], "no vector for %s", s)
	}
	assert.Greater(t, seen["invalid"], 40, "every forgery is a vector")
}

func TestOnlyValidAndGraceUnlock(t *testing.T) {
	for s, want := range map[clientlib.Status]bool{
		clientlib.StatusValid: true, clientlib.StatusGrace: true,
		clientlib.StatusExpired: false, clientlib.StatusRevoked: false, clientlib.StatusInvalid: false,
		clientlib.StatusCheckInRequired: false, clientlib.StatusClockTampered: false,
		clientlib.StatusDeviceMismatch: false, clientlib.StatusNotYetValid: false,
	} {
		assert.Equal(t, want, s.Unlocks(), string(s))
	}
}

func TestEveryKeySetVectorIsAcceptedOrRefusedAsWritten(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(vectorsDir, "manifest.json"))
	require.NoError(t, err)
	var m struct {
		KeySets []struct {
			Name, Description, File string
			Accept                  bool
		} `json:"key_sets"`
	}
	require.NoError(t, json.Unmarshal(data, &m))
	require.Greater(t, len(m.KeySets), 20)
	for _, v := range m.KeySets {
		t.Run(v.Name, func(t *testing.T) {
			js, err := os.ReadFile(filepath.Join(vectorsDir, v.File))
			require.NoError(t, err)
			set, err := keys.ParseJWKS(js)
			if v.Accept {
				require.NoError(t, err, v.Description)
				assert.Equal(t, 1, set.Len())
				return
			}
			require.Error(t, err, v.Description)
		})
	}
}

// The revocation-list vectors: the JavaScript package runs them too
// (clientlib/js/test/vectors.test.js), so both import the same lists and
// refuse the same forgeries.
func TestEveryRevocationListVectorIsImportedOrRefusedAsWritten(t *testing.T) {
	m, _ := loadManifest(t)
	require.Greater(t, len(m.RevocationLists), 10)
	jwks, err := os.ReadFile(filepath.Join(vectorsDir, m.JWKS))
	require.NoError(t, err)
	for _, v := range m.RevocationLists {
		t.Run(v.Name, func(t *testing.T) {
			ctx := context.Background()
			c, err := clientlib.Open(ctx, clientlib.Config{AppID: "com.example.vectors", CachePath: filepath.Join(t.TempDir(), "c.db"), JWKS: jwks, DeviceID: "d1", Fingerprint: "fp"})
			require.NoError(t, err)
			defer c.Close()
			raw, err := os.ReadFile(filepath.Join(vectorsDir, v.File))
			require.NoError(t, err)
			n, err := c.ImportRevocations(ctx, raw)
			if !v.Accept {
				require.Error(t, err, v.Description)
				return
			}
			require.NoError(t, err, v.Description)
			assert.Equal(t, v.Entries, n)
		})
	}
}
