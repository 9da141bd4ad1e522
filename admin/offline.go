package admin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) offlinePage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "offline", page{Title: "Air-gapped machines", Nav: "offline"})
}

// offlineActivate turns an activation request into a device-bound file,
// then shows whose it is (customer, subscription, device) with the file to
// download, so that the admin sends the right file to the right customer.
func (a *Console) offlineActivate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var req []byte
	if err := r.ParseMultipartForm(1 << 20); err == nil {
		if f, _, err := r.FormFile("request_file"); err == nil {
			req, _ = io.ReadAll(io.LimitReader(f, 64<<10))
			f.Close()
		}
	}
	if len(bytes.TrimSpace(req)) == 0 {
		req = []byte(r.FormValue("request"))
	}
	again := func(r *http.Request, f *form) (string, page, error) {
		return "offline", page{Title: "Air-gapped machines", Nav: "offline", Form: f}, nil
	}
	if len(bytes.TrimSpace(req)) == 0 {
		a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "request",
			Message: "choose the request file the customer sent, or paste its text"}, "offline", again)
		return
	}
	file, dev, err := a.svc.OfflineActivate(r.Context(), actor(r), req)
	if err != nil {
		var de *syncserver.Error
		if asDomain(err, &de) && de.Field == "" {
			de.Field = "request"
		}
		a.refuse(w, r, err, "offline", again)
		return
	}
	ctx := r.Context()
	sub, cust, err := a.whose(ctx, dev.SubscriptionID)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	files, _, err := a.svc.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: sub.ID, DeviceRowID: dev.ID, Page: syncserver.Page{PageSize: 1}})
	if err != nil || len(files) == 0 {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "offline-done", page{Title: "License file made", Nav: "offline", Data: map[string]any{
		"Customer": cust, "Sub": sub, "Device": dev, "File": string(file), "JTI": files[0].JTI}})
}

// offlineSync takes an air-gapped machine's sync request or deactivation
// receipt, then shows what it did (whose device, what was stored, what was
// refused and why) with the sync response to send back.
func (a *Console) offlineSync(w http.ResponseWriter, r *http.Request) {
	// Up to 32 MiB over a slow link: more time to read it than the server
	// gives other requests.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(5 * time.Minute))
	r.Body = http.MaxBytesReader(w, r.Body, license.MaxExchangeFileSize+1<<20)
	again := func(r *http.Request, f *form) (string, page, error) {
		return "offline", page{Title: "Air-gapped machines", Nav: "offline", Form: f}, nil
	}
	var file []byte
	// A pasted file is a form value, which multipart parsing holds in
	// memory: room for the largest file an app writes.
	err := r.ParseMultipartForm(license.MaxExchangeFileSize)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || errors.Is(err, multipart.ErrMessageTooLarge) {
		a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindTooLarge, Code: syncserver.CodeRequestTooLarge, Field: "exchange",
			Message: "the file is larger than 32 MiB, more than an app writes; ask the customer for the file again"}, "exchange", again)
		return
	}
	if err == nil {
		if f, _, err := r.FormFile("exchange_file"); err == nil {
			file, _ = io.ReadAll(io.LimitReader(f, license.MaxExchangeFileSize+1))
			f.Close()
		}
		if len(bytes.TrimSpace(file)) == 0 {
			file = []byte(r.FormValue("exchange"))
		}
	}
	// The pasted text is not shown again: it may be megabytes.
	delete(r.PostForm, "exchange")
	if len(bytes.TrimSpace(file)) == 0 {
		a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "exchange",
			Message: "choose the sync request or deactivation receipt the customer sent, or paste its text"}, "exchange", again)
		return
	}
	if len(file) > license.MaxExchangeFileSize {
		a.refuse(w, r, &syncserver.Error{Kind: syncserver.KindTooLarge, Code: syncserver.CodeRequestTooLarge, Field: "exchange",
			Message: "the file is larger than 32 MiB, more than an app writes; ask the customer for the file again"}, "exchange", again)
		return
	}
	res, err := a.svc.OfflineSync(r.Context(), actor(r), file)
	if err != nil {
		var de *syncserver.Error
		if asDomain(err, &de) && de.Field == "" {
			de.Field = "exchange"
		}
		a.refuse(w, r, err, "exchange", again)
		return
	}
	sub, cust, err := a.whose(r.Context(), res.SubscriptionID)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	const shown = 50
	rejected := res.Rejected
	if len(rejected) > shown {
		rejected = rejected[:shown]
	}
	title := "Sync request taken"
	if res.Kind == license.KindDeactivationReceipt {
		title = "Deactivation receipt taken"
	}
	a.render(w, r, "offline-sync-done", page{Title: title, Nav: "offline", Data: map[string]any{
		"Customer": cust, "Sub": sub, "Result": res, "Rejected": rejected, "MoreRejected": len(res.Rejected) - len(rejected),
		"Response": string(res.Response), "Filename": "sync-response-" + safeName(res.DeviceID) + ".txt"}})
}

// whose is a subscription and its customer: what an air-gapped page
// shows, so that the admin sends the right file to the right customer.
func (a *Console) whose(ctx context.Context, subscriptionID string) (*syncserver.Subscription, *syncserver.Customer, error) {
	sub, err := a.svc.GetSubscription(ctx, subscriptionID)
	if err != nil {
		return nil, nil, err
	}
	cust, err := a.svc.GetCustomer(ctx, sub.CustomerID)
	return sub, cust, err
}

// safeName keeps letters, digits, dot, dash and underscore of s, for a
// file name a browser offers.
func safeName(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 60; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "device"
	}
	return string(b)
}

func (a *Console) revocationList(w http.ResponseWriter, r *http.Request) {
	jws, err := a.svc.SignedRevocationList(r.Context(), "")
	if err != nil {
		a.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="revocations.jws"`)
	io.WriteString(w, jws)
}

// subscriptionRevocationList is one subscription's signed list, every
// entry: what an admin hands an air-gapped customer of that subscription.
func (a *Console) subscriptionRevocationList(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	jws, err := a.svc.SignedRevocationList(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="revocations-`+id+`.jws"`)
	io.WriteString(w, jws)
}
