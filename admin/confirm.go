package admin

import (
	"net/http"
	"net/url"
)

// confirmation is the page a destructive action shows before it is done:
// the question, what it will do, the button that does it (the same POST
// with confirm=yes) and a way back. It needs no script, so it works by
// keyboard and in any browser.
type confirmation struct {
	Question, Explain string
	Action            string // the form's URL
	Button            string
	Danger            bool
	Back              string // where Cancel goes
	Hidden            url.Values
}

func (a *Console) confirm(w http.ResponseWriter, r *http.Request, c confirmation) {
	if c.Hidden == nil {
		c.Hidden = url.Values{}
	}
	c.Hidden.Set("confirm", "yes")
	a.render(w, r, "confirm", page{Title: c.Question, Data: c})
}
