// Package jobs runs the server's scheduled work with robfig/cron: expiring
// subscriptions past their grace, marking silent devices inactive (and
// freeing their seats where the plan says so), pruning the validation log,
// old heartbeats and ended web admin sessions. Each job is one call into
// syncserver.Service (Work): the jobs hold no store. With several replicas on one PostgreSQL database,
// each run first takes the job's advisory lock, so one replica runs it at a
// time and the others count a "skipped" run.
//
// Usage is rolled up for analytics in the same transaction that stores it
// (sqlstore's usage_daily), so no job has to catch up on it.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/flowlytix/licensing/syncserver"
)

// Work is what the jobs do, each in one call: syncserver.Service, whose
// clock, rules and store they use.
type Work interface {
	TryJobLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
	ExpireSubscriptions(ctx context.Context) (int, error)
	IdleDevices(ctx context.Context, silence time.Duration) (inactive, freed int, err error)
	PruneLogs(ctx context.Context, retention time.Duration) (validations, heartbeats int, err error)
	PruneSessions(ctx context.Context) (int, error)
	PruneProofIDs(ctx context.Context) (int, error)
	SendReminders(ctx context.Context) (int, error)
	EndTrials(ctx context.Context) (int, error)
}

var _ Work = (*syncserver.Service)(nil)

// Config sets the jobs' schedules and thresholds; zero values take the
// defaults.
type Config struct {
	Work Work
	Log  *slog.Logger
	// DeviceSilence marks a device inactive after this long without a
	// sync or validation (default 30 days).
	DeviceSilence time.Duration
	// Retention is how long validation log entries and heartbeats are kept
	// (default 90 days).
	Retention time.Duration
	// Observe is told of every run: result is ok, error or skipped.
	Observe func(job, result string, d time.Duration)
}

// Job is one scheduled task.
type Job struct {
	Name string
	Spec string // cron schedule
	Run  func(ctx context.Context) (string, error)
}

// Scheduler runs the jobs.
type Scheduler struct {
	cfg  Config
	cron *cron.Cron
	jobs []Job
}

// New prepares the jobs; Start runs them on schedule.
func New(cfg Config) *Scheduler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DeviceSilence <= 0 {
		cfg.DeviceSilence = 30 * 24 * time.Hour
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string, string, time.Duration) {}
	}
	w := cfg.Work
	s := &Scheduler{cfg: cfg, cron: cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))}
	s.jobs = []Job{
		{"expire-subscriptions", "*/5 * * * *", func(ctx context.Context) (string, error) {
			n, err := w.ExpireSubscriptions(ctx)
			return fmt.Sprintf("%d subscriptions expired", n), err
		}},
		{"idle-devices", "17 * * * *", func(ctx context.Context) (string, error) {
			inactive, freed, err := w.IdleDevices(ctx, cfg.DeviceSilence)
			return fmt.Sprintf("%d devices inactive, %d seats freed", inactive, freed), err
		}},
		{"prune-logs", "43 3 * * *", func(ctx context.Context) (string, error) {
			v, h, err := w.PruneLogs(ctx, cfg.Retention)
			return fmt.Sprintf("%d validations and %d heartbeats pruned", v, h), err
		}},
		{"prune-sessions", "*/15 * * * *", func(ctx context.Context) (string, error) {
			n, err := w.PruneSessions(ctx)
			return fmt.Sprintf("%d ended sessions pruned", n), err
		}},
		{"send-reminders", "7 * * * *", func(ctx context.Context) (string, error) {
			n, err := w.SendReminders(ctx)
			return fmt.Sprintf("%d expiry reminders queued", n), err
		}},
		{"end-trials", "*/5 * * * *", func(ctx context.Context) (string, error) {
			n, err := w.EndTrials(ctx)
			return fmt.Sprintf("%d trials ended", n), err
		}},
		{"prune-proof-ids", "*/10 * * * *", func(ctx context.Context) (string, error) {
			n, err := w.PruneProofIDs(ctx)
			return fmt.Sprintf("%d expired DPoP proof ids pruned", n), err
		}},
	}
	for _, j := range s.jobs {
		j := j
		s.cron.AddFunc(j.Spec, func() { s.run(context.Background(), j) })
	}
	return s
}

// Jobs lists the jobs.
func (s *Scheduler) Jobs() []Job { return s.jobs }

// Start runs the jobs on their schedules, in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling and waits for running jobs, or for ctx.
func (s *Scheduler) Stop(ctx context.Context) {
	done := s.cron.Stop()
	select {
	case <-done.Done():
	case <-ctx.Done():
	}
}

// RunNow runs one job at once (the same path the schedule takes).
func (s *Scheduler) RunNow(ctx context.Context, name string) (string, error) {
	for _, j := range s.jobs {
		if j.Name == name {
			return s.run(ctx, j)
		}
	}
	return "", fmt.Errorf("no job named %q", name)
}

func (s *Scheduler) run(ctx context.Context, j Job) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	unlock, ok, err := s.cfg.Work.TryJobLock(ctx, j.Name)
	if err != nil {
		s.cfg.Log.Error("job lock failed", "job", j.Name, "err", err)
		s.cfg.Observe(j.Name, "error", time.Since(start))
		return "", err
	}
	if !ok {
		s.cfg.Log.Info("job skipped: another replica runs it", "job", j.Name)
		s.cfg.Observe(j.Name, "skipped", time.Since(start))
		return "skipped", nil
	}
	defer unlock()
	summary, err := j.Run(ctx)
	d := time.Since(start)
	if err != nil {
		s.cfg.Log.Error("job failed", "job", j.Name, "duration", d, "err", err)
		s.cfg.Observe(j.Name, "error", d)
		return summary, err
	}
	s.cfg.Log.Info("job done", "job", j.Name, "duration", d, "result", summary)
	s.cfg.Observe(j.Name, "ok", d)
	return summary, nil
}
