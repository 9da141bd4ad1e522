package syncserver

import (
	"context"
	"encoding/json"
	"time"
)

// Actor names who makes an admin change, for the audit log: "token:NAME"
// for an API token, "admin:EMAIL" for a web admin user.
type Actor string

// audit appends an entry to the audit log through tx, the transaction of
// the change it records: the entry and the change commit or fail together.
//
// An action that is a domain change a vendor's systems follow writes its
// event too (eventOfAudit), in the same transaction.
func (s *Service) audit(ctx context.Context, tx Store, actor Actor, action, targetType, targetID string, before, after any) error {
	if err := writeAudit(ctx, tx, s.Now(), actor, action, targetType, targetID, before, after); err != nil {
		return err
	}
	if typ := eventOfAudit[action]; typ != "" {
		return s.emit(ctx, tx, typ, eventData(targetType, targetID, after, actor))
	}
	return nil
}

// writeAudit is audit for the package's functions that run without a
// Service (licensed admin create, token create).
func writeAudit(ctx context.Context, tx Store, at time.Time, actor Actor, action, targetType, targetID string, before, after any) error {
	e := &AuditEntry{At: at, Actor: string(actor), Action: action, TargetType: targetType, TargetID: targetID}
	var err error
	if e.Before, err = auditJSON(before); err != nil {
		return err
	}
	if e.After, err = auditJSON(after); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, e)
}

// auditJSON encodes an audit entry's before or after; an entry that cannot
// be written stops the change it records.
func auditJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Kind: KindInternal, Code: CodeInternal, Message: "encode the audit entry", Err: err}
	}
	return b, nil
}
