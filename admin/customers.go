package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flowlytix/licensing/syncserver"
)

func (a *Console) customers(w http.ResponseWriter, r *http.Request) {
	p := pageOf(r)
	list, total, err := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{Query: r.URL.Query().Get("q"), Page: p})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	a.render(w, r, "customers", page{Title: "Customers", Nav: "customers", Data: map[string]any{"List": list, "Pager": newPager(r, p, total)}})
}

func (a *Console) createCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.CreateCustomer(r.Context(), actor(r), syncserver.CustomerInput{Email: str(r.PostFormValue("email")),
		CompanyName: str(r.PostFormValue("company_name")), FirstName: str(r.PostFormValue("first_name")), LastName: str(r.PostFormValue("last_name"))})
	if err != nil {
		p := pageOf(r)
		list, total, lerr := a.svc.ListCustomers(r.Context(), syncserver.CustomerFilter{Page: p})
		if lerr != nil {
			a.failed(w, r, lerr)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		a.render(w, r, "customers", page{Title: "Customers", Nav: "customers",
			Data: map[string]any{"List": list, "Pager": newPager(r, p, total), "Form": r.PostForm, "FormError": errText(err)}})
		return
	}
	back(w, r, "/admin/customers/"+c.ID, "customer-created")
}

func (a *Console) customer(w http.ResponseWriter, r *http.Request) {
	a.customerPage(w, r, chi.URLParam(r, "id"), nil)
}

func (a *Console) customerPage(w http.ResponseWriter, r *http.Request, id string, extra map[string]any) {
	c, err := a.svc.GetCustomer(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	subs, _, err := a.svc.ListSubscriptions(r.Context(), syncserver.SubscriptionFilter{CustomerID: c.ID, Page: syncserver.Page{PageSize: 200}})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	plans, err := a.svc.ListPlans(r.Context())
	if err != nil {
		a.failed(w, r, err)
		return
	}
	data := map[string]any{"Customer": c, "Subscriptions": subs, "Plans": plans,
		"DefaultExpiry": a.svc.Now().AddDate(1, 0, 0).Format("2006-01-02")}
	for k, v := range extra {
		data[k] = v
	}
	a.render(w, r, "customer", page{Title: c.Email, Nav: "customers", Data: data})
}

func (a *Console) updateCustomer(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	_, err := a.svc.UpdateCustomer(r.Context(), actor(r), id, syncserver.CustomerInput{Email: str(r.PostFormValue("email")),
		CompanyName: str(r.PostFormValue("company_name")), FirstName: str(r.PostFormValue("first_name")), LastName: str(r.PostFormValue("last_name"))})
	if err != nil {
		a.failed(w, r, err)
		return
	}
	back(w, r, "/admin/customers/"+id, "customer-saved")
}
