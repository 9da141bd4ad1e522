package sqlstore

import (
	"context"

	"github.com/flowlytix/licensing/syncserver"
)

// RecordValidation appends to the validation log and counts the day's
// validations.
func (s *Store) RecordValidation(ctx context.Context, v syncserver.Validation) error {
	if err := given("record validation", v.At); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *Store) error {
		if _, err := tx.writer().ExecContext(ctx, `INSERT INTO validation_log (at, subscription_id, device_id, valid, reason) VALUES ($1, $2, $3, $4, $5)`,
			tx.t(v.At), v.SubscriptionID, v.DeviceID, v.Valid, v.Reason); err != nil {
			return tx.dbErr("record validation", err)
		}
		metric := "validations"
		if !v.Valid {
			metric = "validations_failed"
		}
		return tx.bump(ctx, syncserver.Day(v.At), metric, 1)
	})
}
