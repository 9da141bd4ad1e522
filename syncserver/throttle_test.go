package syncserver

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleSlowsTheGuesserOnly(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	admitted := 0
	for range 10 {
		if a, _ := th.begin("admin@example.com", "203.0.113.9", now); a != nil {
			admitted++
		}
	}
	if admitted != pairFreeFailures+1 {
		t.Fatalf("got %d guesses admitted at once, want %d", admitted, pairFreeFailures+1)
	}
	if a, _ := th.begin("admin@example.com", "198.51.100.4", now); a == nil {
		t.Fatal("an address with no failures was refused")
	}
	_, wait := th.begin("admin@example.com", "203.0.113.9", now)
	if wait <= 0 || wait > 2*time.Second+time.Second {
		t.Fatalf("got a wait of %v after %d failures, want about 1s", wait, pairFreeFailures+1)
	}
}

func TestThrottleDropsEmptyEntriesAndStaysBounded(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, _ := th.begin("admin@example.com", "198.51.100.4", now)
	if got := th.len(); got != 2 {
		t.Fatalf("got %d entries after one attempt, want 2 (account+address, address)", got)
	}
	th.succeeded(a)
	if got := th.len(); got != 0 {
		t.Fatalf("got %d entries after a success, want 0: empty entries are dropped", got)
	}
	for i := range throttleMaxEntries + 500 {
		th.begin(fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250), now)
	}
	if got := th.len(); got > throttleMaxEntries {
		t.Fatalf("got %d entries, want at most %d", got, throttleMaxEntries)
	}
	// Forgotten entries make room first.
	later := now.Add(throttleForget)
	th.begin("new@example.com", "192.0.2.1", later)
	if got := th.len(); got != 2 {
		t.Fatalf("got %d entries an hour later, want the 2 new ones", got)
	}
}
