package syncserver

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
)

// CustomerInput creates or changes a customer. Nil fields stay unchanged
// in an update.
type CustomerInput struct {
	Email       *string
	CompanyName *string
	FirstName   *string
	LastName    *string
	Status      *string
	ExternalID  *string
	// Tags replaces the tags when not nil (an empty list clears them).
	Tags []string
}

// MaxTags bounds the tags of one customer or subscription.
const MaxTags = 20

// checkTags trims the tags, drops empty ones and repeats (in any case),
// and holds each to 1 to 40 characters without commas (lists and forms
// join tags with commas) or control characters.
func checkTags(field string, tags []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		if err := checkField(field, t, false, 40); err != nil {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: field, Message: fmt.Sprintf("tag %q: %s", t, strings.TrimPrefix(err.Error(), field+" "))}
		}
		if strings.ContainsRune(t, ',') {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: field, Message: fmt.Sprintf("tag %q holds a comma: commas separate tags", t)}
		}
		seen[strings.ToLower(t)] = true
		out = append(out, t)
	}
	if len(out) > MaxTags {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: field, Message: fmt.Sprintf("%d tags is more than %d", len(out), MaxTags)}
	}
	return out, nil
}

func (in *CustomerInput) apply(c *Customer) error {
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "email", Message: fmt.Sprintf("email %q is not an email address", e)}
		}
		c.Email = e
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
	}{{"company_name", in.CompanyName, &c.CompanyName}, {"first_name", in.FirstName, &c.FirstName}, {"last_name", in.LastName, &c.LastName}} {
		if f.src == nil {
			continue
		}
		if err := checkField(f.name, *f.src, false, 200); err != nil {
			return err
		}
		*f.dst = strings.TrimSpace(*f.src)
	}
	if in.ExternalID != nil {
		if err := checkField("external_id", strings.TrimSpace(*in.ExternalID), false, 200); err != nil {
			return err
		}
		c.ExternalID = strings.TrimSpace(*in.ExternalID)
	}
	if in.Tags != nil {
		tags, err := checkTags("tags", in.Tags)
		if err != nil {
			return err
		}
		c.Tags = tags
	}
	if in.Status != nil {
		switch *in.Status {
		case CustomerActive, CustomerArchived:
			c.Status = *in.Status
		default:
			return Errorf(KindInvalid, CodeInvalidRequest, "status %q: want active or archived", *in.Status)
		}
	}
	return nil
}

// CreateCustomer adds a customer.
func (s *Service) CreateCustomer(ctx context.Context, actor Actor, in CustomerInput) (*Customer, error) {
	if in.Email == nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Field: "email", Message: "email is required"}
	}
	c := &Customer{Status: CustomerActive, CreatedAt: s.Now(), Tags: []string{}}
	if err := in.apply(c); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateCustomer(ctx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "customer.create", "customer", c.ID, nil, c)
	})
	return c, err
}

// UpdateCustomer changes the fields in is set.
func (s *Service) UpdateCustomer(ctx context.Context, actor Actor, id string, in CustomerInput) (*Customer, error) {
	var out *Customer
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetCustomer(ctx, id)
		if err != nil {
			return err
		}
		c := *before
		if err := in.apply(&c); err != nil {
			return err
		}
		if sameCustomer(&c, before) {
			out = before // nothing changed: nothing written, nothing audited
			return nil
		}
		c.UpdatedAt = s.Now()
		if err := tx.UpdateCustomer(ctx, &c); err != nil {
			return err
		}
		out = &c
		return s.audit(ctx, tx, actor, "customer.update", "customer", id, before, &c)
	})
	return out, err
}

func sameCustomer(a, b *Customer) bool {
	return a.Email == b.Email && a.CompanyName == b.CompanyName && a.FirstName == b.FirstName && a.LastName == b.LastName &&
		a.Status == b.Status && a.ExternalID == b.ExternalID && slices.Equal(a.Tags, b.Tags)
}
