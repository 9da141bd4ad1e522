package syncserver

import (
	"context"
	"fmt"
	"net/mail"
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
	c := &Customer{Status: CustomerActive, CreatedAt: s.Now()}
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
		if c == *before {
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
