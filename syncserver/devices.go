package syncserver

import (
	"context"
	"time"
)

// DeactivateDevice frees a device's seat.
func (s *Service) DeactivateDevice(ctx context.Context, actor Actor, id string) (*Device, error) {
	return s.endDevice(ctx, actor, id, "device.deactivate", Store.DeactivateDevice)
}

// BlockDevice frees a device's seat and refuses it from now on; its next
// sync or validate learns it.
func (s *Service) BlockDevice(ctx context.Context, actor Actor, id string) (*Device, error) {
	return s.endDevice(ctx, actor, id, "device.block", Store.BlockDevice)
}

func (s *Service) endDevice(ctx context.Context, actor Actor, id, action string, end func(Store, context.Context, string, time.Time) (*Device, error)) (*Device, error) {
	var out *Device
	err := s.store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetDevice(ctx, id)
		if err != nil {
			return err
		}
		if out, err = end(tx, ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, action, "device", id, before, out)
	})
	return out, err
}
