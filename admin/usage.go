package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/flowlytix/licensing/internal/csvexport"
	"github.com/flowlytix/licensing/syncserver"
)

// usageFilter reads the usage page's filters: customer, subscription,
// feature, from, to, per (day or month).
func usageFilter(q url.Values) syncserver.UsageFilter {
	return syncserver.UsageFilter{CustomerID: q.Get("customer"), SubscriptionID: q.Get("subscription"), Feature: q.Get("feature"),
		From: q.Get("from"), To: q.Get("to"), GroupBy: q.Get("per")}
}

func (a *Console) usage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := usageFilter(q)
	if f.GroupBy == "" {
		f.GroupBy = "month"
		if f.From == "" {
			// Twelve months, the last one's included.
			end := a.svc.Now()
			if t, err := time.Parse(time.DateOnly, f.To); err == nil {
				end = t
			}
			f.From = end.AddDate(-1, 0, 1).Format("2006-01") + "-01"
		}
	}
	data := map[string]any{"Filter": f}
	var title string
	if f.SubscriptionID != "" {
		sub, err := a.svc.GetSubscription(ctx, f.SubscriptionID)
		if err != nil {
			a.failed(w, r, err)
			return
		}
		data["Sub"] = sub
		title = "Usage of " + sub.LicenseKey[:min(9, len(sub.LicenseKey))]
		if quotas, err := a.svc.QuotaUse(ctx, sub); err == nil {
			data["Quotas"] = quotas
		}
	}
	if f.CustomerID != "" {
		c, err := a.svc.GetCustomer(ctx, f.CustomerID)
		if err != nil {
			a.failed(w, r, err)
			return
		}
		data["Customer"] = c
		if title == "" {
			title = "Usage of " + customerName(c)
		}
	}
	if title == "" {
		title = "Usage"
	}
	rows, err := a.svc.Usage(ctx, f)
	p := page{Title: title, Nav: "customers", Data: data}
	if err != nil {
		var de *syncserver.Error
		if !asDomain(err, &de) {
			a.failed(w, r, err)
			return
		}
		p.Error = plain(de)
		a.renderStatus(w, r, statusOf(de), "usage", p)
		return
	}
	total := map[string]int64{}
	for _, u := range rows {
		total[u.Feature] += u.Count
	}
	data["Rows"], data["Totals"] = rows, total
	csv := url.Values{}
	for k, v := range map[string]string{"customer": f.CustomerID, "subscription": f.SubscriptionID, "feature": f.Feature, "from": f.From, "to": f.To, "per": f.GroupBy} {
		if v != "" {
			csv.Set(k, v)
		}
	}
	data["CSV"] = "/admin/usage.csv?" + csv.Encode()
	a.render(w, r, "usage", p)
}

func (a *Console) usageCSV(w http.ResponseWriter, r *http.Request) {
	rows, err := a.svc.Usage(r.Context(), usageFilter(r.URL.Query()))
	if err != nil {
		a.failed(w, r, err)
		return
	}
	if err := csvexport.Usage(csvexport.Start(w, "usage.csv"), rows); err != nil {
		a.log.ErrorContext(r.Context(), "export usage", "err", err)
	}
}

// customerName is what pages call a customer: the company, else the email.
func customerName(c *syncserver.Customer) string {
	if c.CompanyName != "" {
		return c.CompanyName
	}
	return c.Email
}
