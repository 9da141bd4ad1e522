package clientlib_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/syncserver"
)

// TestATrialRunsOutOfflineAndAPaidKeyReplacesIt: the app starts a trial,
// shows the days left offline, sees it end without the network, and a
// paid key on the same machine takes its place.
func TestATrialRunsOutOfflineAndAPaidKeyReplacesIt(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	days := 14
	prod, err := l.svc.CreateProduct(ctx, "test", syncserver.ProductInput{Code: "com.example.app", Name: ptr("Example"), KeyPrefix: ptr("EXA"), TrialDays: &days})
	require.NoError(t, err)
	// A second ahead: the file's nbf is the server's second, which may
	// tick over between here and the trial.
	clk := &clock{time.Now().Add(time.Second)}
	cfg := clientlib.Config{JWKS: jwks(t), AppID: "com.example.app", Product: "com.example.app", CachePath: filepath.Join(t.TempDir(), "c.db"),
		DeviceID: "trial-laptop", Fingerprint: "fp-trial-laptop", ServerURL: l.url(), Now: clk.now}
	c, err := clientlib.Open(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()

	res, err := c.StartTrial(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
	assert.InDelta(t, 14, res.DaysRemaining, 1, "days left, from the file")

	// Offline, days pass: the trial ends by itself.
	l.stop()
	clk.t = time.Now().Add(15 * 24 * time.Hour)
	assert.Equal(t, clientlib.StatusExpired, c.Check().Status)

	// A paid key of the product on the same machine replaces it.
	l.start(l.addr)
	sub := l.subscription(func(in *syncserver.SubscriptionInput) { in.Product = prod.ID; in.MaxDevices = 1 })
	res, err = c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusValid, res.Status)
	assert.Equal(t, sub.ID, res.Claims.SubscriptionID)
	_, err = c.StartTrial(ctx, "")
	var ae *clientlib.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "trial_used", ae.Code)
}

func ptr[T any](v T) *T { return &v }
