package admin

import (
	"bytes"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) offlinePage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "offline", page{Title: "Air-gapped activation", Nav: "offline"})
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
		return "offline", page{Title: "Air-gapped activation", Nav: "offline", Form: f}, nil
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
	sub, err := a.svc.GetSubscription(ctx, dev.SubscriptionID)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	cust, err := a.svc.GetCustomer(ctx, sub.CustomerID)
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
