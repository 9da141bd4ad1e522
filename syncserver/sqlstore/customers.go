package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/flowlytix/licensing/syncserver"
)

const customerCols = "id, email, company_name, first_name, last_name, status, created_at, updated_at, external_id, tags"

func scanCustomer(row scanner, c *syncserver.Customer) error {
	return row.Scan(&c.ID, &c.Email, &c.CompanyName, &c.FirstName, &c.LastName, &c.Status, tm(&c.CreatedAt), tm(&c.UpdatedAt),
		&c.ExternalID, listScan{&c.Tags})
}

// customerSearch is the lowercased text the q filter matches: email,
// names, the vendor's id and tags.
func customerSearch(c *syncserver.Customer) string {
	return strings.ToLower(strings.Join(append([]string{c.Email, c.CompanyName, c.FirstName, c.LastName, c.ExternalID}, c.Tags...), " "))
}

// likePattern makes a LIKE pattern that matches q anywhere, with LIKE's
// wildcards in q escaped.
func likePattern(q string) string {
	return "%" + likeEscape(strings.ToLower(strings.TrimSpace(q))) + "%"
}

// likeEscape escapes LIKE's wildcards (with ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CreateCustomer stores c, filling its id when empty.
func (s *Store) CreateCustomer(ctx context.Context, c *syncserver.Customer) error {
	if err := given("create customer", c.CreatedAt); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = newID()
	}
	c.UpdatedAt = c.CreatedAt
	if c.Status == "" {
		c.Status = "active"
	}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	_, err := s.writer().ExecContext(ctx, `INSERT INTO customers (`+customerCols+`, search) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Email, c.CompanyName, c.FirstName, c.LastName, c.Status, s.t(c.CreatedAt), s.t(c.UpdatedAt), c.ExternalID, encodeList(c.Tags), customerSearch(c))
	if s.d.IsUniqueViolation(err) {
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "a customer with email %s already exists", c.Email)
	}
	return s.dbErr("create customer", err)
}

// GetCustomer finds a customer by id.
func (s *Store) GetCustomer(ctx context.Context, id string) (*syncserver.Customer, error) {
	var c syncserver.Customer
	err := scanCustomer(s.reader().QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE id = $1`, id), &c)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "customer %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get customer", err)
	}
	return &c, nil
}

// GetCustomerByEmail finds a customer by email (stored in lower case).
func (s *Store) GetCustomerByEmail(ctx context.Context, email string) (*syncserver.Customer, error) {
	var c syncserver.Customer
	err := scanCustomer(s.reader().QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE email = $1`, strings.ToLower(strings.TrimSpace(email))), &c)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no customer has email %s", email)
	}
	if err != nil {
		return nil, s.dbErr("get customer by email", err)
	}
	return &c, nil
}

// UpdateCustomer stores changed names, email and status.
func (s *Store) UpdateCustomer(ctx context.Context, c *syncserver.Customer) error {
	if err := given("update customer", c.UpdatedAt); err != nil {
		return err
	}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	res, err := s.writer().ExecContext(ctx, `UPDATE customers SET email = $2, company_name = $3, first_name = $4, last_name = $5, status = $6, updated_at = $7, search = $8,
		external_id = $9, tags = $10 WHERE id = $1`,
		c.ID, c.Email, c.CompanyName, c.FirstName, c.LastName, c.Status, s.t(c.UpdatedAt), customerSearch(c), c.ExternalID, encodeList(c.Tags))
	if s.d.IsUniqueViolation(err) {
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "a customer with email %s already exists", c.Email)
	}
	if err != nil {
		return s.dbErr("update customer", err)
	}
	return mustAffect(res, "customer", c.ID)
}

// ListCustomers lists customers, newest first.
func (s *Store) ListCustomers(ctx context.Context, f syncserver.CustomerFilter) ([]syncserver.Customer, int, error) {
	return page(ctx, s, "list customers", customerCols, "customers", s.customerWhere(f), "created_at DESC, id", f.Page, scanCustomer)
}

// EachCustomer walks the customers f selects, in id order.
func (s *Store) EachCustomer(ctx context.Context, f syncserver.CustomerFilter, fn func(*syncserver.Customer) error) error {
	return each(ctx, s, "export customers", customerCols, "customers", s.customerWhere(f), "id", scanCustomer, fn)
}

func (s *Store) customerWhere(f syncserver.CustomerFilter) where {
	w := where{}
	if q := strings.TrimSpace(f.Query); syncserver.IsUUID(q) {
		w.add("id = $#", q)
	} else if q != "" && f.Prefix {
		p := s.prefixPattern(strings.ToLower(q))
		w.add("(email "+s.d.PrefixOp+" $# OR lower(company_name) "+s.d.PrefixOp+" $# OR external_id = $#)", p, p, q)
	} else if q != "" {
		w.add("search LIKE $# ESCAPE '\\'", likePattern(q))
	}
	if f.Status != "" {
		w.add("status = $#", f.Status)
	}
	if len(f.IDs) > 0 {
		in := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			in[i] = w.next(id)
		}
		w.conds = append(w.conds, "id IN ("+strings.Join(in, ", ")+")")
	}
	return w
}
