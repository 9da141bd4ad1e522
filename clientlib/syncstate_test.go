package clientlib_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/syncserver"
)

func TestABadEventNeverBlocksTheQueue(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	clk := &clock{t: time.Now()}
	path := filepath.Join(t.TempDir(), "c.db")
	c := openClient(t, l, path, "pc", clk.now)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)

	assert.Error(t, c.RecordUsage(ctx, strings.Repeat("f", 65), 1, 0), "refused when recorded")
	for _, name := range []string{"__proto__", "Export", "export pdf", "ſ"} {
		assert.Error(t, c.RecordUsage(ctx, name, 1, 0), "%q breaks the feature-name rule the server holds usage to", name)
	}
	assert.Error(t, c.RecordUsage(ctx, "export", 2_000_000_000, 0))

	// A dead battery: the clock reads 1990 while an event is recorded.
	real := clk.t
	clk.t = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	clk.t = real
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	rep, err := c.Sync(ctx)
	require.NoError(t, err, "the 1990 event is set aside before sending; the queue moves on")
	assert.Equal(t, 1, rep.Accepted, "its neighbour is sent")
	usage, _, err := c.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, usage)
	require.NoError(t, c.Close())
	db := rawDB(t, path)
	defer db.Close()
	var rejected int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM rejected").Scan(&rejected))
	assert.Equal(t, 1, rejected, "set aside, not lost")
}

func TestDeletedRevocationsComeBackOnTheNextSync(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	path := filepath.Join(t.TempDir(), "c.db")
	c := openClient(t, l, path, "pc", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	_, err = l.svc.ChangeStatus(ctx, "test", sub.ID, "revoke")
	require.NoError(t, err)
	_, err = c.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, clientlib.StatusRevoked, c.Check().Status)
	require.NoError(t, c.Close())

	db := rawDB(t, path)
	_, err = db.Exec("DELETE FROM revocations")
	require.NoError(t, err)
	db.Close()
	again := openClient(t, l, path, "pc", nil)
	assert.Equal(t, clientlib.StatusValid, again.Check().Status, "offline, the edit holds")
	_, err = again.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, clientlib.StatusRevoked, again.Check().Status, "until the next sync")
}

func TestAClockAheadCannotStampTheLastSyncLater(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	days := 10
	sub := l.subscription(func(in *syncserver.SubscriptionInput) { in.MaxOfflineDays = &days })
	real := time.Now()
	clk := &clock{t: real}
	c := openClient(t, l, filepath.Join(t.TempDir(), "c.db"), "pc", clk.now)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	clk.t = real.Add(300 * 24 * time.Hour) // set ahead, then sync
	_, err = c.Sync(ctx)
	require.NoError(t, err)
	clk.t = real.Add(50 * 24 * time.Hour) // back, but 50 days on from the real sync
	assert.Equal(t, clientlib.StatusCheckInRequired, c.Check().Status)
}

func TestUsageOfAnEarlierLicenseIsNotReportedUnderTheNext(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	a := l.subscription(nil)
	b := l.subscription(nil)
	c := openClient(t, l, filepath.Join(t.TempDir(), "c.db"), "pc", nil)
	_, err := c.Activate(ctx, a.LicenseKey)
	require.NoError(t, err)
	l.stop()
	addr := l.addr
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	l.start(addr)
	_, err = c.Activate(ctx, b.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Accepted, "only the event recorded under b goes to b")
}

// TestARefusedRowNeverTakesItsBatchWithIt: rows the server refuses are
// isolated (the batch is sent again in halves), set aside with the
// server's reason and listed by Rejected; every good row of the batch
// reaches the server, once.
func TestARefusedRowNeverTakesItsBatchWithIt(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	path := filepath.Join(t.TempDir(), "c.db")
	c := openClient(t, l, path, "pc", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	for range 20 {
		require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	}
	require.NoError(t, c.Close())
	// Two rows this client's checks would refuse, written by an older
	// version of the app: a feature name the server refuses, a count over
	// its limit.
	db := rawDB(t, path)
	_, err = db.Exec(`UPDATE queue SET feature = 'Not A Feature' WHERE id = (SELECT id FROM queue WHERE kind = 'usage' ORDER BY id LIMIT 1 OFFSET 3)`)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE queue SET count = 5000000000 WHERE id = (SELECT id FROM queue WHERE kind = 'usage' ORDER BY id LIMIT 1 OFFSET 15)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	c = openClient(t, l, path, "pc", nil)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 18, rep.Accepted, "every good row of the batch went through")
	assert.Equal(t, 2, rep.Rejected)
	usage, _, err := c.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, usage, "refused rows are not pending")
	rejected, err := c.Rejected(ctx)
	require.NoError(t, err)
	require.Len(t, rejected, 2)
	assert.Contains(t, rejected[0].Reason, "is not a feature name")
	assert.Equal(t, "Not A Feature", rejected[0].Feature)
	assert.Contains(t, rejected[1].Reason, "count must be from 0 to")
	for _, r := range rejected {
		assert.Equal(t, "usage", r.Kind)
		assert.NotEmpty(t, r.EventID)
	}
	o, err := l.svc.Overview(ctx, 1)
	require.NoError(t, err)
	var events int64
	for _, u := range o.Usage {
		events += u.Events
	}
	assert.Equal(t, int64(18), events, "stored once each on the server")
	rep, err = c.Sync(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Sent+rep.Rejected, "nothing left to send or set aside")
}

// TestTheProbeOfARefusedRowIsASyncLikeAnyOther: isolating a refused row
// sends a sync without it; the server may sign a new file for that sync
// (a renewal), and the client installs it rather than lose it.
func TestTheProbeOfARefusedRowIsASyncLikeAnyOther(t *testing.T) {
	ctx := context.Background()
	l := startLicensed(t)
	sub := l.subscription(nil)
	path := filepath.Join(t.TempDir(), "c.db")
	c := openClient(t, l, path, "pc", nil)
	_, err := c.Activate(ctx, sub.LicenseKey)
	require.NoError(t, err)
	require.NoError(t, c.RecordUsage(ctx, "export", 1, 0))
	require.NoError(t, c.Close())
	db := rawDB(t, path)
	_, err = db.Exec(`UPDATE queue SET feature = 'Not A Feature' WHERE kind = 'usage'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	renewed := sub.ExpiresAt.AddDate(1, 0, 0)
	_, err = l.svc.Renew(ctx, "test", sub.ID, renewed)
	require.NoError(t, err)

	c = openClient(t, l, path, "pc", nil)
	rep, err := c.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Rejected)
	assert.True(t, rep.NewLicense, "the renewal the probe brought is installed")
	assert.Equal(t, renewed.Unix(), c.Check().Claims.ExpiresAt.Unix())
}
