package syncserver

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flowlytix/licensing/license"
)

// What the support console needs beyond the lists: search across records,
// a customer's notes and usage, a device's heartbeats, undoing a block,
// bulk changes, exports and imports.

// SearchResult is what a search found, a few of each kind.
type SearchResult struct {
	Query         string         `json:"query"`
	Customers     []Customer     `json:"customers"`
	Subscriptions []Subscription `json:"subscriptions"`
	Devices       []Device       `json:"devices"`
}

// Empty reports whether nothing was found.
func (r *SearchResult) Empty() bool {
	return len(r.Customers) == 0 && len(r.Subscriptions) == 0 && len(r.Devices) == 0
}

// searchLimit is how many of each kind a search returns.
const searchLimit = 10

// Search looks for q everywhere a support person would: the start of a
// license key, of an email or a company name, of a device id or a host
// name; a customer, subscription or device id; a fingerprint hash. Each
// through an index, so that it stays fast over a million devices (the
// customers list searches inside names too).
func (s *Service) Search(ctx context.Context, q string) (*SearchResult, error) {
	q = strings.TrimSpace(q)
	out := &SearchResult{Query: q, Customers: []Customer{}, Subscriptions: []Subscription{}, Devices: []Device{}}
	if q == "" {
		return out, nil
	}
	if err := checkText("q", q, false, 200); err != nil {
		return nil, err
	}
	p := Page{PageSize: searchLimit, NoCount: true}
	var err error
	isKey := s.IsKeyStart(ctx, q)
	if isKey || IsUUID(q) {
		if out.Subscriptions, _, err = s.ListSubscriptions(ctx, SubscriptionFilter{Query: q, Page: p}); err != nil {
			return nil, err
		}
	}
	if !isKey {
		// One pass over the customers' text, then their subscriptions by
		// the customer index.
		if out.Customers, _, err = s.ListCustomers(ctx, CustomerFilter{Query: q, Prefix: true, Page: p}); err != nil {
			return nil, err
		}
		if len(out.Customers) > 0 && !IsUUID(q) {
			ids := make([]string, len(out.Customers))
			for i, c := range out.Customers {
				ids[i] = c.ID
			}
			if out.Subscriptions, _, err = s.ListSubscriptions(ctx, SubscriptionFilter{CustomerIDs: ids, Page: p}); err != nil {
				return nil, err
			}
		}
	}
	if out.Devices, _, err = s.ListDevices(ctx, DeviceFilter{Query: q, Page: p}); err != nil {
		return nil, err
	}
	return out, nil
}

// IssuedLicenseFile returns a file the server issued, armored, to download
// again: the same bytes, signing nothing. A file of a subscription that no
// longer unlocks the app is not handed out.
func (s *Service) IssuedLicenseFile(ctx context.Context, jti string) (*LicenseFileRecord, []byte, error) {
	rec, err := s.store.GetLicenseFile(ctx, jti)
	if err != nil {
		return nil, nil, err
	}
	sub, err := s.GetSubscription(ctx, rec.SubscriptionID)
	if err != nil {
		return nil, nil, err
	}
	if !sub.Usable(s.Now()) {
		return nil, nil, Errorf(KindConflict, CodeLicenseInactive, "the subscription is %s: its license files are not handed out", sub.Status)
	}
	return rec, license.Armor(rec.Token), nil
}

// MaxNoteBytes bounds a customer note.
const MaxNoteBytes = 4000

// AddCustomerNote keeps a note on a customer, audited.
func (s *Service) AddCustomerNote(ctx context.Context, actor Actor, customerID, body string) (*CustomerNote, error) {
	return s.addNote(ctx, actor, customerID, "", body)
}

// AddSubscriptionNote keeps a note on a subscription: its customer's
// page shows it too.
func (s *Service) AddSubscriptionNote(ctx context.Context, actor Actor, subscriptionID, body string) (*CustomerNote, error) {
	sub, err := s.store.GetSubscription(ctx, subscriptionID)
	if err != nil {
		return nil, err
	}
	return s.addNote(ctx, actor, sub.CustomerID, sub.ID, body)
}

// ListSubscriptionNotes lists a subscription's latest notes, newest first.
func (s *Service) ListSubscriptionNotes(ctx context.Context, subscriptionID string, limit int) ([]CustomerNote, error) {
	return s.store.ListSubscriptionNotes(ctx, subscriptionID, min(max(limit, 1), MaxPageSize))
}

func (s *Service) addNote(ctx context.Context, actor Actor, customerID, subscriptionID, body string) (*CustomerNote, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "body", Message: "the note is empty: write something first"}
	}
	if len(body) > MaxNoteBytes {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "body", Message: fmt.Sprintf("the note is longer than %d bytes: shorten it", MaxNoteBytes)}
	}
	for _, r := range body {
		if r != '\n' && r != '\r' && r != '\t' && r < 0x20 {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "body", Message: "the note contains a control character"}
		}
	}
	n := &CustomerNote{CustomerID: customerID, SubscriptionID: subscriptionID, Author: string(actor), Body: body, CreatedAt: s.Now()}
	err := s.store.InTx(ctx, func(tx Store) error {
		if _, err := tx.GetCustomer(ctx, customerID); err != nil {
			return err
		}
		if err := tx.AddCustomerNote(ctx, n); err != nil {
			return err
		}
		if subscriptionID != "" {
			return s.audit(ctx, tx, actor, "subscription.note", "subscription", subscriptionID, nil, n)
		}
		return s.audit(ctx, tx, actor, "customer.note", "customer", customerID, nil, n)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// ListCustomerNotes lists a customer's latest notes, newest first.
func (s *Service) ListCustomerNotes(ctx context.Context, customerID string, limit int) ([]CustomerNote, error) {
	return s.store.ListCustomerNotes(ctx, customerID, min(max(limit, 1), MaxPageSize))
}

// CustomerUsage is a customer's usage per feature and day over the last
// days days (today included, partial).
func (s *Service) CustomerUsage(ctx context.Context, customerID string, days int) ([]FeatureDayCount, error) {
	days = min(max(days, 1), 366)
	now := s.Now()
	all, err := s.store.CustomerUsage(ctx, customerID, Day(now.AddDate(0, 0, -(days-1))))
	if err != nil {
		return nil, err
	}
	// Events an app dated ahead of the server's clock stay in the rollup
	// but not in a range that ends today.
	out := all[:0]
	for _, u := range all {
		if u.Day <= Day(now) {
			out = append(out, u)
		}
	}
	return out, nil
}

// RecentHeartbeats lists a device's latest heartbeats, newest first.
func (s *Service) RecentHeartbeats(ctx context.Context, deviceRowID string, limit int) ([]Heartbeat, error) {
	return s.store.RecentHeartbeats(ctx, deviceRowID, min(max(limit, 1), MaxPageSize))
}

// UnblockDevice lifts a block: the device holds no seat (it is
// deactivated) and may activate again, and the revocation log says so, so
// that apps which learnt of the block learn of its end.
func (s *Service) UnblockDevice(ctx context.Context, actor Actor, id string) (*Device, error) {
	var out *Device
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetDevice(ctx, id)
		if err != nil {
			return err
		}
		if before.Status != DeviceBlocked {
			return Errorf(KindConflict, CodeConflict, "the device is %s, not blocked", before.Status)
		}
		if out, err = tx.UnblockDevice(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "device.unblock", "device", id, before, out)
	})
	return out, err
}

// BulkResult says what a bulk change did to each subscription.
type BulkResult struct {
	Done   []string          `json:"done"`   // ids changed
	Failed map[string]string `json:"failed"` // id: why not
}

// MaxBulk bounds how many subscriptions one bulk change takes.
const MaxBulk = MaxPageSize

// BulkExtend moves the expiry of each subscription days later, each in a
// transaction and an audit entry of its own: one that cannot be extended
// (revoked) is reported and does not stop the others.
func (s *Service) BulkExtend(ctx context.Context, actor Actor, ids []string, days int) (*BulkResult, error) {
	if days < 1 || days > 3660 {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "days", Message: "extend by 1 to 3,660 days"}
	}
	return s.bulk(ctx, ids, func(id string) error {
		sub, err := s.store.GetSubscription(ctx, id)
		if err != nil {
			return err
		}
		// From the later of today and the current expiry, so that an
		// expired subscription gets the days it was promised.
		from := sub.ExpiresAt
		if now := s.Now(); from.Before(now) {
			from = now
		}
		t := from.AddDate(0, 0, days)
		_, _, err = s.ChangeTerms(ctx, actor, id, TermsInput{ExpiresAt: &t}, "subscription.renew")
		return err
	})
}

// BulkStatus suspends or reinstates each subscription (revoking stays one
// at a time, confirmed).
func (s *Service) BulkStatus(ctx context.Context, actor Actor, ids []string, change string) (*BulkResult, error) {
	if change != "suspend" && change != "reinstate" {
		return nil, invalidf("a bulk change is suspend or reinstate, not %q", change)
	}
	return s.bulk(ctx, ids, func(id string) error {
		_, err := s.ChangeStatus(ctx, actor, id, change)
		return err
	})
}

func (s *Service) bulk(ctx context.Context, ids []string, fn func(id string) error) (*BulkResult, error) {
	if len(ids) == 0 {
		return nil, invalidf("no subscription is selected: tick the ones to change")
	}
	if len(ids) > MaxBulk {
		return nil, invalidf("at most %d subscriptions at once", MaxBulk)
	}
	out := &BulkResult{Done: []string{}, Failed: map[string]string{}}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if err := fn(id); err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Kind == KindInternal || de.Kind == KindUnavailable {
				return out, err
			}
			out.Failed[id] = de.Message
			continue
		}
		out.Done = append(out.Done, id)
	}
	return out, nil
}

// The exports walk every row a filter selects, a chunk at a time (see
// Store.EachCustomer).

// ExportCustomers calls fn for each customer f selects.
func (s *Service) ExportCustomers(ctx context.Context, f CustomerFilter, fn func(*Customer) error) error {
	if err := oneOf("status", f.Status, CustomerStatuses...); err != nil {
		return err
	}
	return s.store.EachCustomer(ctx, f, fn)
}

// ExportSubscriptions calls fn for each subscription f selects, its status
// as shown now.
func (s *Service) ExportSubscriptions(ctx context.Context, f SubscriptionFilter, fn func(*Subscription) error) error {
	if err := s.checkSubscriptionFilter(ctx, &f); err != nil {
		return err
	}
	return s.store.EachSubscription(ctx, f, func(sub *Subscription) error { return fn(s.shown(sub)) })
}

// ExportDevices calls fn for each device f selects.
func (s *Service) ExportDevices(ctx context.Context, f DeviceFilter, fn func(*Device) error) error {
	if err := oneOf("status", f.Status, DeviceStatuses...); err != nil {
		return err
	}
	f.Now = s.Now()
	return s.store.EachDevice(ctx, f, fn)
}

// ExportAudit calls fn for each audit entry f selects, newest first, a
// page at a time.
func (s *Service) ExportAudit(ctx context.Context, f AuditFilter, fn func(*AuditEntry) error) error {
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "to", Message: "the end of the date range must be after its start"}
	}
	f.Page = Page{PageSize: MaxPageSize, NoCount: true} // a walk needs no total
	for {
		list, _, err := s.store.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		for i := range list {
			if err := fn(&list[i]); err != nil {
				return err
			}
		}
		if len(list) < MaxPageSize {
			return nil
		}
		f.BeforeID = list[len(list)-1].ID
	}
}

// ImportResult says what a customer import did.
type ImportResult struct {
	Created int      `json:"created"`
	Skipped []string `json:"skipped"` // emails that already were customers
}

// MaxImportRows bounds one import.
const MaxImportRows = 10_000

// ImportCustomers reads a CSV with a header row naming at least "email"
// (and optionally company_name, first_name, last_name) and creates a
// customer for each new email, all in one transaction: a file with any bad
// row imports nothing, and the error names every bad line. Emails that are
// already customers are skipped and listed.
func (s *Service) ImportCustomers(ctx context.Context, actor Actor, r io.Reader) (*ImportResult, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "file", Message: "the file is empty: it needs a header row (email, company_name, first_name, last_name) and a row per customer"}
	}
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "file", Message: "line 1 is not CSV: " + err.Error()}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "email", "company_name", "first_name", "last_name":
			col[h] = i
		case "company":
			col["company_name"] = i
		}
	}
	if _, ok := col["email"]; !ok {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "file", Message: "the header row names no email column: the first line must be column names, e.g. email,company_name,first_name,last_name"}
	}
	type row struct {
		line int
		in   CustomerInput
	}
	var rows []row
	var problems []string
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line, err = pe.StartLine, pe.Err
			}
			problems = append(problems, fmt.Sprintf("line %d: not CSV (%v)", line, err))
			if pe == nil {
				break // not a parse error: the reader cannot go on
			}
			if len(problems) >= 20 {
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rows)+len(problems) >= MaxImportRows {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "file", Message: fmt.Sprintf("the file has more than %d rows: split it", MaxImportRows)}
		}
		get := func(name string) *string {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return nil
			}
			v := strings.TrimSpace(rec[i])
			return &v
		}
		in := CustomerInput{Email: get("email"), CompanyName: get("company_name"), FirstName: get("first_name"), LastName: get("last_name")}
		var c Customer
		if in.Email == nil || *in.Email == "" {
			problems = append(problems, fmt.Sprintf("line %d: no email", line))
		} else if err := in.apply(&c); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %s", line, errMessage(err)))
		} else if first, dup := seen[strings.ToLower(c.Email)]; dup {
			problems = append(problems, fmt.Sprintf("line %d: %s is also on line %d", line, c.Email, first))
		} else {
			seen[strings.ToLower(c.Email)] = line
			rows = append(rows, row{line, in})
		}
		if len(problems) >= 20 {
			break
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "file",
			Message: "nothing was imported; fix these lines and upload the file again: " + strings.Join(problems, "; ")}
	}
	if len(rows) == 0 {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "file", Message: "the file has a header row but no customers"}
	}
	out := &ImportResult{Skipped: []string{}}
	err = s.store.InTx(ctx, func(tx Store) error {
		out.Created, out.Skipped = 0, out.Skipped[:0]
		for _, r := range rows {
			c := &Customer{Status: CustomerActive, CreatedAt: s.Now()}
			_ = r.in.apply(c) // checked above
			if _, err := tx.GetCustomerByEmail(ctx, c.Email); err == nil {
				out.Skipped = append(out.Skipped, c.Email)
				continue
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := tx.CreateCustomer(ctx, c); err != nil {
				return fmt.Errorf("line %d: %w", r.line, err)
			}
			if err := s.audit(ctx, tx, actor, "customer.create", "customer", c.ID, nil, c); err != nil {
				return err
			}
			out.Created++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errMessage is a domain error's message, for a list of problems.
func errMessage(err error) string {
	var de *Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}
