package admin

import (
	"net/http"
	"strings"

	"github.com/flowlytix/licensing/syncserver"
)

// search is the header's search box: license key (or its start), email,
// company, name, customer, subscription or device id, the start of a device
// id or host name, a fingerprint hash. It is a POST, so that a license key
// typed into it never lands in a URL; one match opens its record.
func (a *Console) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.PostFormValue("q"))
	if q == "" {
		a.render(w, r, "search", page{Title: "Search", Data: map[string]any{}, Error: "Type something to search for: the start of a license key, an email, a company name, a device id or a host name."})
		return
	}
	res, err := a.svc.Search(r.Context(), q)
	if err != nil {
		var de = asErr(err)
		if de != nil {
			a.renderStatus(w, r, statusOf(de), "search", page{Title: "Search", Search: q, Error: plain(de), Data: map[string]any{}})
			return
		}
		a.failed(w, r, err)
		return
	}
	if one := single(res.Customers, res.Subscriptions, res.Devices); one != "" {
		http.Redirect(w, r, one, http.StatusSeeOther)
		return
	}
	status := http.StatusOK
	if res.Empty() {
		status = http.StatusNotFound
	}
	a.renderStatus(w, r, status, "search", page{Title: "Search", Search: q, Data: map[string]any{"R": res,
		"Customers": a.customerNames(r, append(res.Subscriptions, subsOf(res.Devices)...))}})
}

func subsOf(ds []syncserver.Device) []syncserver.Subscription {
	out := make([]syncserver.Subscription, len(ds))
	for i, d := range ds {
		out[i].CustomerID = d.CustomerID
	}
	return out
}

// asErr is the domain error a person can act on in err, or nil.
func asErr(err error) *syncserver.Error {
	var de *syncserver.Error
	if asDomain(err, &de) {
		return de
	}
	return nil
}

// single is the page of the one record a search found, or "".
func single(cs []syncserver.Customer, ss []syncserver.Subscription, ds []syncserver.Device) string {
	switch {
	case len(cs) == 1 && len(ss) == 0 && len(ds) == 0:
		return "/admin/customers/" + cs[0].ID
	case len(cs) == 0 && len(ss) == 1 && len(ds) == 0:
		return "/admin/subscriptions/" + ss[0].ID
	case len(cs) == 0 && len(ss) == 0 && len(ds) == 1:
		return "/admin/devices/" + ds[0].ID
	}
	return ""
}
