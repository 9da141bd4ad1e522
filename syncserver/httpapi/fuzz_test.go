package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
	"github.com/flowlytix/licensing/syncserver/sqlite"
)

// FuzzAPIBodies sends arbitrary bodies to every app endpoint and to the
// admin endpoints that take one. Whatever the bytes, the answer is never a
// 5xx, and every error is in the contract's shape. Seeds are in
// testdata/fuzz/FuzzAPIBodies.
func FuzzAPIBodies(f *testing.F) {
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "f.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(f)})
	if err != nil {
		f.Fatal(err)
	}
	lim := httpapi.Limit{Burst: 1 << 30}
	api, err := httpapi.New(httpapi.Config{Service: svc, Log: discardLogger(), Limits: httpapi.Limits{ActivatePerIP: lim, ActivatePerKey: lim, ValidatePerIP: lim, ValidatePerKey: lim}})
	if err != nil {
		f.Fatal(err)
	}
	token, _, err := svc.CreateAPIToken(context.Background(), "fuzz", "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/api/v1/licensing/activate", "/api/v1/licensing/validate", "/api/v1/licensing/sync",
		"/api/v1/licensing/deactivate", "/api/v1/customers", "/api/v1/subscriptions", "/api/v1/offline/activate",
		"/api/v1/products", "/api/v1/plans", "/api/v1/offline/sync"}
	f.Add(uint8(0), []byte(`{"license_key":"FLX-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA","device_fingerprint":"f","device_info":{"device_id":"d","platform":"p","app_version":"1"}}`))
	f.Add(uint8(2), []byte(`{"token":"a.b.c","device_id":"d","revocation_cursor":1,"usage":[{"event_id":"00000000-0000-0000-0000-000000000000","feature":"x","count":1,"at":"2026-01-01T00:00:00Z"}]}`))
	f.Add(uint8(4), []byte(`{"email":"a@b.co","company_name":"x"}`))
	f.Add(uint8(5), []byte(`{"customer_id":"x","tier":"basic","features":[],"max_devices":1,"expires_at":"2099-01-01T00:00:00Z"}`))
	f.Add(uint8(7), []byte(`{"code":"com.acme.editor","name":"Editor","key_prefix":"ACME"}`))
	f.Add(uint8(8), []byte(`{"product":"flowlytix-app","name":"Pro","tier":"Pro","max_devices":2,"entitlements":{"projects":10,"sso":true,"quota.export":100}}`))
	f.Add(uint8(9), []byte(license.SyncRequestBeginLine+"\neyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln\n"+license.SyncRequestEndLine))
	f.Add(uint8(9), []byte(license.DeactivationReceiptBeginLine+"\na.b.c\n"+license.DeactivationReceiptEndLine))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s answered %d to %q: %s", path, rec.Code, body, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("POST %s answered %d without the error shape: %s", path, rec.Code, rec.Body)
			}
		}
	})
}
