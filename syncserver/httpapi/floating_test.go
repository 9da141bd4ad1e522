package httpapi_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/postgres"
)

var noLimits = httpapi.Limits{ActivatePerIP: httpapi.Limit{Burst: 1 << 30}, ActivatePerKey: httpapi.Limit{Burst: 1 << 30},
	DeactivatePerIP: httpapi.Limit{Burst: 1 << 30}, SyncPerIP: httpapi.Limit{Burst: 1 << 30}}

// floatingSub makes a floating subscription of places seats.
func (s *server) floatingSub(t *testing.T, places int, extra map[string]any) (id, key string) {
	t.Helper()
	body := map[string]any{"customer_id": s.customer(), "tier": "professional", "features": []string{"export"},
		"max_devices": places, "expires_at": time.Now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339), "floating": true}
	for k, v := range extra {
		body[k] = v
	}
	r := s.do("POST", "/api/v1/subscriptions", body, true)
	require.Equal(t, 201, r.status, "%s", r.body)
	m := r.json(t)
	require.Equal(t, true, m["floating"])
	return m["id"].(string), m["license_key"].(string)
}

// seatDevice is an app checking seats out: its key and fingerprint.
type seatDevice = trialDevice

var newSeatDevice = newTrialDevice

func (s *server) checkout(t *testing.T, licenseKey string, d seatDevice, borrowDays int) response {
	t.Helper()
	return s.do("POST", "/api/v1/licensing/checkout", map[string]any{"license_key": licenseKey, "device_fingerprint_sha256": d.fp,
		"device_public_key": d.key.PublicJWK(), "borrow_days": borrowDays,
		"device_info": map[string]any{"device_id": d.id, "platform": "linux/amd64", "app_version": "1.0.0", "hostname": "h-" + d.id}}, false)
}

func leaseOf(t *testing.T, r response) *license.Claims {
	t.Helper()
	require.Equal(t, 200, r.status, "%s", r.body)
	tok, err := license.ParseCompact(r.json(t)["signed_token"].(string))
	require.NoError(t, err)
	require.True(t, tok.Claims.IsLease(), "a lease file")
	return tok.Claims
}

// However many devices race for the last places, on however many
// replicas, never more than the subscription's places are leased; the
// refused learn when to try again.
func TestFloatingSeatsRaceOnTwoReplicas(t *testing.T) {
	keys := testkeys.Set(t)
	for _, b := range []struct {
		name string
		open func(t *testing.T) (syncserver.Store, syncserver.Store)
	}{
		{"sqlite", func(t *testing.T) (syncserver.Store, syncserver.Store) { st := testenv.SQLite(t); return st, st }},
		{"postgres", func(t *testing.T) (syncserver.Store, syncserver.Store) {
			dsn := testenv.PostgresDSN(t)
			var out [2]syncserver.Store
			for i := range out {
				st, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 10})
				require.NoError(t, err)
				t.Cleanup(func() { st.Close() })
				out[i] = st
			}
			return out[0], out[1]
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			st1, st2 := b.open(t)
			var replicas [2]*server
			for i, st := range []syncserver.Store{st1, st2} {
				svc, err := syncserver.New(syncserver.Config{Store: st, Keys: keys})
				require.NoError(t, err)
				replicas[i] = serve(t, svc, st, noLimits)
			}
			s := replicas[0]
			subID, key := s.floatingSub(t, 3, nil)
			const n = 50
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			var leased []string
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					d := newSeatDevice(t, "racer-"+strconv.Itoa(i))
					r := replicas[i%2].checkout(t, key, d, 0)
					mu.Lock()
					defer mu.Unlock()
					statuses[r.status]++
					switch r.status {
					case 200:
						leased = append(leased, d.id)
					case 409:
						assert.Contains(t, string(r.body), `"no_free_seat"`)
						wait, err := strconv.Atoi(r.header.Get("Retry-After"))
						assert.NoError(t, err, "Retry-After says when to try again")
						assert.InDelta(t, 3600, wait, 60, "the first lease ends in an hour")
					default:
						t.Errorf("checkout answered %d: %s", r.status, r.body)
					}
				}(i)
			}
			wg.Wait()
			assert.Equal(t, map[int]int{200: 3, 409: n - 3}, statuses)
			live, err := st1.ListLeases(context.Background(), subID, time.Now())
			require.NoError(t, err)
			require.Len(t, live, 3, "three live leases, whatever raced")
			got := []string{}
			for _, l := range live {
				got = append(got, l.DeviceID)
			}
			assert.ElementsMatch(t, leased, got)
			r := s.do("GET", "/api/v1/subscriptions/"+subID+"/leases", nil, true)
			require.Equal(t, 200, r.status, "%s", r.body)
			assert.Len(t, r.json(t)["items"], 3)
		})
	}
}

// floatingBackend serves a service whose clock the test moves.
func floatingBackend(t *testing.T, fn func(t *testing.T, s *server, now func() time.Time, later func(time.Duration))) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			var offset atomic.Int64
			now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t), Now: now})
			require.NoError(t, err)
			fn(t, serve(t, svc, st, noLimits), now, func(d time.Duration) { offset.Add(int64(d)) })
		})
	}
}

func (s *server) leaseSync(t *testing.T, d seatDevice, token string, now time.Time) response {
	return s.doWith("POST", "/api/v1/licensing/sync", map[string]any{"token": token, "device_id": d.id, "revocation_cursor": 0},
		false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/sync", now))
}

func (s *server) checkin(t *testing.T, d seatDevice, token string, now time.Time) response {
	return s.doWith("POST", "/api/v1/licensing/checkin", map[string]any{"token": token, "device_id": d.id},
		false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/checkin", now))
}

// A lease lasts its minutes unless syncs renew it, frees its place by
// itself when they stop, and at once on check-in; a borrowed seat lasts
// its days offline and comes back early by check-in.
func TestLeaseRenewalExpiryCheckinAndBorrowing(t *testing.T) {
	floatingBackend(t, func(t *testing.T, s *server, now func() time.Time, later func(time.Duration)) {
		subID, key := s.floatingSub(t, 1, map[string]any{"lease_minutes": 10, "max_borrow_days": 7})
		a, b := newSeatDevice(t, "desk-a"), newSeatDevice(t, "desk-b")

		r := s.checkout(t, key, a, 0)
		la := leaseOf(t, r)
		assert.WithinDuration(t, now().Add(10*time.Minute), la.Expiry, 2*time.Second, "a lease of lease_minutes")
		assert.Zero(t, la.GracePeriodDays)
		assert.False(t, la.LeaseBorrowed)
		tokenA := r.json(t)["signed_token"].(string)
		refused := s.checkout(t, key, b, 0)
		expectError(t, refused, 409, "no_free_seat")
		wait, err := strconv.Atoi(refused.header.Get("Retry-After"))
		require.NoError(t, err)
		assert.InDelta(t, 600, wait, 5, "the lease ends in ten minutes")

		// Six minutes on, a sync renews A's lease with a new file.
		later(6 * time.Minute)
		r = s.leaseSync(t, a, tokenA, now())
		require.Equal(t, 200, r.status, "%s", r.body)
		file, _ := r.json(t)["license_file"].(string)
		require.NotEmpty(t, file, "a renewed lease file")
		renewed, err := license.Parse([]byte(file))
		require.NoError(t, err)
		assert.Equal(t, la.LeaseID, renewed.Claims.LeaseID, "the same lease")
		assert.WithinDuration(t, now().Add(10*time.Minute), renewed.Claims.Expiry, 2*time.Second)
		tokenA = renewed.Compact
		later(8 * time.Minute) // past the first file's end, within the renewal's
		expectError(t, s.checkout(t, key, b, 0), 409, "no_free_seat")

		// Syncs stop: the lease ends by itself and B gets the place.
		later(3 * time.Minute)
		leaseOf(t, s.checkout(t, key, b, 0))
		r = s.leaseSync(t, a, tokenA, now())
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Nil(t, r.json(t)["license_file"], "an ended lease is not renewed")
		expectError(t, s.checkout(t, key, a, 0), 409, "no_free_seat")

		// B checks in: A gets the place at once.
		tokenB := ""
		{
			r := s.checkout(t, key, b, 0) // B renews (the same lease)
			tokenB = r.json(t)["signed_token"].(string)
		}
		r = s.checkin(t, b, tokenB, now())
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, true, r.json(t)["returned"])

		// A borrows the seat for a week: a file that lasts offline.
		expectError(t, s.checkout(t, key, a, 8), 400, "invalid_request")
		r = s.checkout(t, key, a, 7)
		borrowed := leaseOf(t, r)
		assert.True(t, borrowed.LeaseBorrowed)
		assert.WithinDuration(t, now().Add(7*24*time.Hour), borrowed.Expiry, 2*time.Second)
		list := s.do("GET", "/api/v1/subscriptions/"+subID+"/leases", nil, true).json(t)["items"].([]any)
		require.Len(t, list, 1)
		assert.Equal(t, true, list[0].(map[string]any)["borrowed"], "the admin sees who borrowed what until when")
		assert.Equal(t, "desk-a", list[0].(map[string]any)["device_id"])
		later(3 * 24 * time.Hour)
		expectError(t, s.checkout(t, key, b, 0), 409, "no_free_seat")
		tokenA = r.json(t)["signed_token"].(string)
		r = s.leaseSync(t, a, tokenA, now())
		assert.Nil(t, r.json(t)["license_file"], "a borrowed lease keeps its end")

		// Returned early: the place is free at once.
		require.Equal(t, 200, s.checkin(t, a, tokenA, now()).status)
		leaseOf(t, s.checkout(t, key, b, 0))

		// Not floating, and floating refusing activation.
		_, fixedKey := s.subscription(1)
		expectError(t, s.checkout(t, fixedKey, a, 0), 409, "not_floating")
		expectError(t, s.do("POST", "/api/v1/licensing/activate", activateBody(key, "old-app"), false), 409, "floating_license")
		_, noBorrow := s.floatingSub(t, 1, nil)
		expectError(t, s.checkout(t, noBorrow, a, 2), 409, "borrow_not_allowed")
	})
}

// components makes a Linux machine's component set: raw values by name.
func components(raw map[string]string) license.Components {
	c := license.Components{}
	for n, v := range raw {
		c[n] = license.ComponentValue("com.acme.editor", n, v)
	}
	return c
}

func (s *server) activateComponents(t *testing.T, licenseKey, deviceID string, c license.Components) response {
	t.Helper()
	return s.do("POST", "/api/v1/licensing/activate", map[string]any{"license_key": licenseKey,
		"device_fingerprint_sha256": license.FingerprintHash(c.Fingerprint()), "device_components": c,
		"device_info": map[string]any{"device_id": deviceID, "platform": "linux/amd64", "app_version": "1.0.0"}}, false)
}

// A machine that changed keeps its seat within its quota, audited; beyond
// it the app is told, and an admin can grant more; a cloned VM image is
// told apart.
func TestRebindWithinAndBeyondTheQuotaAndACloneToldApart(t *testing.T) {
	eachBackend(t, noLimits, func(t *testing.T, s *server) {
		r := s.do("POST", "/api/v1/subscriptions", map[string]any{"customer_id": s.customer(), "tier": "professional", "features": []string{},
			"max_devices": 1, "expires_at": time.Now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339), "rebinds_per_year": 1}, true)
		require.Equal(t, 201, r.status, "%s", r.body)
		key, subID := r.json(t)["license_key"].(string), r.json(t)["id"].(string)
		raw := map[string]string{"machine_id": "m-1", "board": "board-1", "disk": "disk-1", "mac": "aa:bb:cc:00:00:01"}
		c0 := components(raw)
		r = s.activateComponents(t, key, "ws-1", c0)
		require.Equal(t, 200, r.status, "%s", r.body)
		devRow := ""
		{
			devs := s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true)
			require.Equal(t, 200, devs.status, "%s", devs.body)
			devRow = devs.json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
		}

		// A new disk: the same device, rebound, its seat kept.
		raw["disk"] = "disk-2"
		c1 := components(raw)
		r = s.activateComponents(t, key, "ws-1", c1)
		require.Equal(t, 200, r.status, "%s", r.body)
		tok, err := license.ParseCompact(r.json(t)["signed_token"].(string))
		require.NoError(t, err)
		assert.Equal(t, license.FingerprintHash(c1.Fingerprint()), tok.Claims.DeviceFingerprintSHA256, "the file names the new fingerprint")
		rb := s.do("GET", "/api/v1/devices/"+devRow+"/rebinds", nil, true).json(t)
		assert.EqualValues(t, 1, rb["used"])
		assert.EqualValues(t, 1, rb["allowed"])
		assert.Equal(t, []any{"disk"}, rb["rebinds"].([]any)[0].(map[string]any)["changed"])

		// A new network card too: beyond the quota of one a year.
		raw["mac"] = "aa:bb:cc:00:00:02"
		c2 := components(raw)
		expectError(t, s.activateComponents(t, key, "ws-1", c2), 409, "rebind_limit_reached")
		g := s.do("POST", "/api/v1/devices/"+devRow+"/rebinds", map[string]any{"grant": 1}, true)
		require.Equal(t, 200, g.status, "%s", g.body)
		assert.EqualValues(t, 2, g.json(t)["allowed"])
		require.Equal(t, 200, s.activateComponents(t, key, "ws-1", c2).status)

		// A clone of its VM image: the same machine id and disk, another
		// board and MAC. It is not the device.
		clone := components(map[string]string{"machine_id": "m-1", "board": "board-clone", "disk": "disk-2", "mac": "aa:bb:cc:00:00:99"})
		r = s.activateComponents(t, key, "ws-1", clone)
		expectError(t, r, 409, "device_fingerprint_mismatch")
		assert.Contains(t, string(r.body), "copy")
		// Another machine, as a new device: no seat left.
		expectError(t, s.activateComponents(t, key, "ws-clone", clone), 409, "device_limit_reached")
		rb = s.do("GET", "/api/v1/devices/"+devRow+"/rebinds", nil, true).json(t)
		assert.EqualValues(t, 2, rb["used"], "a refused clone is no rebind")

		audit := s.do("GET", "/api/v1/audit?target_id="+devRow, nil, true)
		require.Equal(t, 200, audit.status, "%s", audit.body)
		assert.Equal(t, 2, strings.Count(string(audit.body), `"device.rebind"`), "every rebind audited")
		assert.Contains(t, string(audit.body), `"device.grant_rebinds"`)
	})
}

// A borrowed seat comes back early by the machine's offline receipt
// (sync by sneakernet); an uploaded sync request brings it no longer
// file, and a floating license has no file bound to no device.
func TestABorrowedSeatComesBackByAnOfflineReceipt(t *testing.T) {
	eachBackend(t, noLimits, func(t *testing.T, s *server) {
		subID, key := s.floatingSub(t, 1, map[string]any{"max_borrow_days": 14})
		a, b := newSeatDevice(t, "field-a"), newSeatDevice(t, "field-b")
		r := s.checkout(t, key, a, 14)
		borrowed := leaseOf(t, r)
		require.True(t, borrowed.LeaseBorrowed)
		d := keyedDevice{id: a.id, key: a.key, token: r.json(t)["signed_token"].(string)}

		// The terms change: a device of a seat of its own would get a new
		// file; a borrowed seat's is its lease's.
		p := s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"features": []string{"export", "print"}}, true)
		require.Equal(t, 200, p.status, "%s", p.body)
		req := exchangeFile(t, d, subID, license.KindSyncRequest, a.key, event("export", 1))
		r = s.do("POST", "/api/v1/offline/sync", req, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, false, r.json(t)["new_license_file"], "a borrowed seat keeps its end")
		expectError(t, s.checkout(t, key, b, 0), 409, "no_free_seat")
		expectError(t, s.do("GET", "/api/v1/subscriptions/"+subID+"/license-file", nil, true), 409, "floating_license")

		receipt := exchangeFile(t, d, subID, license.KindDeactivationReceipt, a.key)
		r = s.do("POST", "/api/v1/offline/sync", receipt, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Equal(t, true, r.json(t)["deactivated"])
		leaseOf(t, s.checkout(t, key, b, 0))
		list := s.do("GET", "/api/v1/subscriptions/"+subID+"/leases", nil, true).json(t)["items"].([]any)
		require.Len(t, list, 1)
		assert.Equal(t, "field-b", list[0].(map[string]any)["device_id"])
	})
}

// A subscription changes between floating and not only with no device
// seated; a floating one counts its leases, not its devices.
func TestFloatingChangesOnlyWithNoDeviceSeated(t *testing.T) {
	eachBackend(t, noLimits, func(t *testing.T, s *server) {
		subID, key := s.floatingSub(t, 2, nil)
		a := newSeatDevice(t, "toggle-a")
		leaseOf(t, s.checkout(t, key, a, 0))
		leaseOf(t, s.checkout(t, key, newSeatDevice(t, "toggle-b"), 0))
		got := s.do("GET", "/api/v1/subscriptions/"+subID, nil, true).json(t)
		assert.EqualValues(t, 0, got["active_devices"], "a floating subscription's seats are its leases")
		r := s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"floating": false}, true)
		expectError(t, r, 409, "conflict")
		assert.Contains(t, string(r.body), "deactivate")
		// Seat terms of the same kind change freely.
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"lease_minutes": 30}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.EqualValues(t, 30, r.json(t)["lease_minutes"])
		devs := s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true).json(t)["items"].([]any)
		for _, d := range devs {
			require.Equal(t, 200, s.do("POST", "/api/v1/devices/"+d.(map[string]any)["id"].(string)+"/deactivate", nil, true).status)
		}
		r = s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"floating": false}, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.EqualValues(t, 0, r.json(t)["active_devices"])
		expectError(t, s.checkout(t, key, a, 0), 409, "not_floating")
		require.Equal(t, 200, s.do("POST", "/api/v1/licensing/activate", activateBody(key, "fixed-1"), false).status)
		assert.EqualValues(t, 1, s.do("GET", "/api/v1/subscriptions/"+subID, nil, true).json(t)["active_devices"])
		expectError(t, s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"floating": true}, true), 409, "conflict")
	})
}

// A device with a key is rebound only by a call it proves; a sync whose
// rebind is refused still stores what it carries and says why.
func TestRebindNeedsTheDeviceProofAndARefusalLosesNothing(t *testing.T) {
	eachBackend(t, noLimits, func(t *testing.T, s *server) {
		subID, key := s.subscription(1)
		d := newSeatDevice(t, "proved-1")
		raw := map[string]string{"machine_id": "m-p", "board": "b-p", "disk": "d-p", "mac": "02:00:00:00:00:10"}
		body := func(c license.Components) map[string]any {
			return map[string]any{"license_key": key, "device_fingerprint_sha256": license.FingerprintHash(c.Fingerprint()), "device_components": c,
				"device_public_key": d.key.PublicJWK(), "device_info": map[string]any{"device_id": d.id, "platform": "linux/amd64", "app_version": "1.0.0"}}
		}
		r := s.do("POST", "/api/v1/licensing/activate", body(components(raw)), false)
		require.Equal(t, 200, r.status, "%s", r.body)

		raw["disk"] = "d-p2"
		moved := components(raw)
		// The license key and the machine's hashes, without the key's proof.
		expectError(t, s.do("POST", "/api/v1/licensing/activate", body(moved), false), 401, "invalid_proof")
		r = s.doWith("POST", "/api/v1/licensing/activate", body(moved), false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/activate", time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		token := r.json(t)["signed_token"].(string)

		// A copy on other hardware syncs with the device's key: its usage
		// is stored, its rebind refused, and it gets no file.
		clone := components(map[string]string{"machine_id": "m-p", "board": "b-clone", "disk": "d-clone", "mac": "02:00:00:00:00:99"})
		r = s.doWith("POST", "/api/v1/licensing/sync", map[string]any{"token": token, "device_id": d.id, "revocation_cursor": 0,
			"device_fingerprint_sha256": license.FingerprintHash(clone.Fingerprint()), "device_components": clone,
			"usage": []map[string]any{{"event_id": "8d4f3b0e-5a43-4c1e-9a0e-3d2c1b0a9f8e", "feature": "export", "count": 1, "at": time.Now().UTC().Format(time.RFC3339)}}},
			false, prove(t, d.key, "POST", s.url+"/api/v1/licensing/sync", time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		m := r.json(t)
		assert.EqualValues(t, 1, m["accepted"], "what it queued is stored")
		assert.Nil(t, m["license_file"])
		refused := m["rebind_refused"].(map[string]any)
		assert.Equal(t, "device_fingerprint_mismatch", refused["code"])
		assert.Contains(t, refused["message"], "copy")
		devs := s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true).json(t)["items"].([]any)
		assert.Equal(t, license.FingerprintHash(moved.Fingerprint()), devs[0].(map[string]any)["fingerprint_sha256"], "the device stays the real machine's")
	})
}

// Review cases: a borrowed seat is not traded for a lease; lowered seats
// end the latest leases with their time; a refused rebind binds no key.
func TestFloatingEdges(t *testing.T) {
	floatingBackend(t, func(t *testing.T, s *server, now func() time.Time, later func(time.Duration)) {
		subID, key := s.floatingSub(t, 2, map[string]any{"lease_minutes": 10, "max_borrow_days": 7})
		a, b := newSeatDevice(t, "edge-a"), newSeatDevice(t, "edge-b")
		r := s.checkout(t, key, a, 7)
		leaseOf(t, r)
		expectError(t, s.checkout(t, key, a, 0), 409, "conflict")

		// Seats lowered to one: the lease that started first keeps
		// renewing; the later one ends with its time.
		require.Equal(t, 200, s.checkin(t, a, r.json(t)["signed_token"].(string), now()).status)
		ra := s.checkout(t, key, a, 0)
		leaseOf(t, ra)
		later(time.Second)
		rb := s.checkout(t, key, b, 0)
		leaseOf(t, rb)
		p := s.do("PATCH", "/api/v1/subscriptions/"+subID, map[string]any{"max_devices": 1}, true)
		require.Equal(t, 200, p.status, "%s", p.body)
		later(5 * time.Minute)
		r = s.leaseSync(t, b, rb.json(t)["signed_token"].(string), now())
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Nil(t, r.json(t)["license_file"], "the later lease is not renewed past the lowered seats")
		r = s.leaseSync(t, a, ra.json(t)["signed_token"].(string), now())
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.NotNil(t, r.json(t)["license_file"], "the first lease renews")
	})
	eachBackend(t, noLimits, func(t *testing.T, s *server) {
		// A device from before keys; a copy of its machine syncs with a
		// key of its own and other hardware.
		subID, key := s.subscription(1)
		orig := components(map[string]string{"machine_id": "m-k", "board": "b-k", "disk": "d-k", "mac": "02:00:00:00:00:20"})
		r := s.activateComponents(t, key, "keyless", orig)
		require.Equal(t, 200, r.status, "%s", r.body)
		clone := components(map[string]string{"machine_id": "m-k", "board": "b-c", "disk": "d-c", "mac": "02:00:00:00:00:21"})
		thief, err := license.NewDeviceKey()
		require.NoError(t, err)
		r = s.doWith("POST", "/api/v1/licensing/sync", map[string]any{"token": r.json(t)["signed_token"], "device_id": "keyless", "revocation_cursor": 0,
			"device_fingerprint_sha256": license.FingerprintHash(clone.Fingerprint()), "device_components": clone},
			false, prove(t, thief, "POST", s.url+"/api/v1/licensing/sync", time.Now()))
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.NotNil(t, r.json(t)["rebind_refused"])
		assert.Nil(t, r.json(t)["license_file"], "a refused copy gets no file")
		dev := s.do("GET", "/api/v1/subscriptions/"+subID+"/devices", nil, true).json(t)["items"].([]any)[0].(map[string]any)
		assert.Nil(t, dev["key_thumbprint"], "the copy's key is not the device's")
	})
}
