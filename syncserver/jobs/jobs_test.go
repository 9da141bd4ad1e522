package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/jobs"
)

type runs struct {
	mu  sync.Mutex
	got []string
}

func (r *runs) observe(job, result string, _ time.Duration) {
	r.mu.Lock()
	r.got = append(r.got, job+":"+result)
	r.mu.Unlock()
}

func TestJobsRunAndReport(t *testing.T) {
	ctx := context.Background()
	for _, engine := range testenv.Stores {
		t.Run(engine.Name, func(t *testing.T) {
			st := engine.Open(t)
			c := &syncserver.Customer{Email: "j@example.com", CreatedAt: time.Now()}
			require.NoError(t, st.CreateCustomer(ctx, c))
			key, _ := license.NewLicenseKey()
			sub := &syncserver.Subscription{CreatedAt: time.Now(), CustomerID: c.ID, LicenseKey: key, Tier: "basic", MaxDevices: 1,
				StartsAt: time.Now().AddDate(-1, 0, 0), ExpiresAt: time.Now().AddDate(0, 0, -30), GracePeriodDays: 7}
			require.NoError(t, st.CreateSubscription(ctx, sub))

			var r runs
			svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t)})
			require.NoError(t, err)
			s := jobs.New(jobs.Config{Work: svc, Log: testenv.QuietLog(), Observe: r.observe})
			names := []string{}
			for _, j := range s.Jobs() {
				names = append(names, j.Name)
			}
			assert.ElementsMatch(t, []string{"expire-subscriptions", "idle-devices", "prune-logs", "prune-sessions", "send-reminders", "end-trials", "prune-proof-ids"}, names)
			summary, err := s.RunNow(ctx, "expire-subscriptions")
			require.NoError(t, err)
			assert.Equal(t, "1 subscriptions expired", summary)
			got, err := st.GetSubscription(ctx, sub.ID)
			require.NoError(t, err)
			assert.Equal(t, syncserver.SubscriptionExpired, got.Status)

			// While another holder (a replica) has the lock, a run is skipped.
			unlock, ok, err := st.TryJobLock(ctx, "prune-logs")
			require.NoError(t, err)
			require.True(t, ok)
			summary, err = s.RunNow(ctx, "prune-logs")
			require.NoError(t, err)
			assert.Equal(t, "skipped", summary)
			unlock()
			_, err = s.RunNow(ctx, "prune-logs")
			require.NoError(t, err)
			_, err = s.RunNow(ctx, "idle-devices")
			require.NoError(t, err)
			summary, err = s.RunNow(ctx, "prune-sessions")
			require.NoError(t, err)
			assert.Equal(t, "0 ended sessions pruned", summary)
			summary, err = s.RunNow(ctx, "end-trials")
			require.NoError(t, err)
			assert.Equal(t, "0 trials ended", summary)
			assert.Equal(t, []string{"expire-subscriptions:ok", "prune-logs:skipped", "prune-logs:ok", "idle-devices:ok", "prune-sessions:ok", "end-trials:ok"}, r.got)
			_, err = s.RunNow(ctx, "nope")
			assert.Error(t, err)
		})
	}
}
