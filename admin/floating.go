package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

// seatInput reads the seat terms of a plan or terms form: the floating
// box and three numbers. With cur, only what differs from it is set.
func seatInput(r *http.Request, cur *syncserver.SeatTerms) (syncserver.SeatInput, error) {
	var in syncserver.SeatInput
	if _, sent := r.PostForm["seats_form"]; !sent {
		return in, nil // a form without the seat fields
	}
	floating := r.PostFormValue("floating") == "yes"
	if cur == nil || floating != cur.Floating {
		in.Floating = &floating
	}
	for _, x := range []struct {
		name string
		cur  int
		dst  **int
	}{{"lease_minutes", 0, &in.LeaseMinutes}, {"max_borrow_days", 0, &in.MaxBorrowDays}, {"rebinds_per_year", 0, &in.RebindsPerYear}} {
		v, err := formInt(r, x.name)
		if err != nil {
			return in, err
		}
		if cur != nil {
			x.cur = map[string]int{"lease_minutes": cur.LeaseMinutes, "max_borrow_days": cur.MaxBorrowDays, "rebinds_per_year": cur.RebindsPerYear}[x.name]
			if v != nil && *v == x.cur {
				continue
			}
		}
		*x.dst = v
	}
	return in, nil
}

// returnLease ends a device's lease (a borrowed seat on a lost machine).
func (a *Console) returnLease(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	d, err := a.svc.GetDevice(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if _, err := a.svc.ReturnLease(r.Context(), actor(r), id); err != nil {
		a.refuse(w, r, err, "return-lease", a.subscriptionViewOf(d.SubscriptionID))
		return
	}
	back(w, r, "/admin/subscriptions/"+d.SubscriptionID+"#leases", "lease-returned")
}

// grantRebinds lets a device be rebound more times this year.
func (a *Console) grantRebinds(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	n, err := formInt(r, "grant")
	if err == nil && n == nil {
		err = &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "grant", Message: "type how many rebinds to grant, 1 to 100"}
	}
	if err == nil {
		_, err = a.svc.GrantRebinds(r.Context(), actor(r), id, *n)
	}
	if err != nil {
		a.refuse(w, r, err, "grant", a.deviceView)
		return
	}
	back(w, r, "/admin/devices/"+id+"#rebinds", "rebinds-granted")
}
