package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

const licenseFileCols = "jti, subscription_id, device_row_id, revision, issued_at, expires_at, token, kid"

func scanLicenseFile(row scanner, f *syncserver.LicenseFileRecord) error {
	return row.Scan(&f.JTI, &f.SubscriptionID, &f.DeviceRowID, &f.Revision, tm(&f.IssuedAt), tm(&f.ExpiresAt), &f.Token, &f.Kid)
}

// RecordLicenseFile stores an issued file.
func (s *Store) RecordLicenseFile(ctx context.Context, f *syncserver.LicenseFileRecord) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO license_files (`+licenseFileCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		f.JTI, f.SubscriptionID, f.DeviceRowID, f.Revision, s.t(f.IssuedAt), s.t(f.ExpiresAt), f.Token, f.Kid)
	return s.dbErr("record license file", err)
}

// LatestLicenseFile finds the newest file of a device (or of no device).
func (s *Store) LatestLicenseFile(ctx context.Context, subscriptionID, deviceRowID string) (*syncserver.LicenseFileRecord, error) {
	var f syncserver.LicenseFileRecord
	err := scanLicenseFile(s.reader().QueryRowContext(ctx, `SELECT `+licenseFileCols+` FROM license_files
		WHERE subscription_id = $1 AND device_row_id = $2 ORDER BY issued_at DESC, revision DESC, jti DESC LIMIT 1`, subscriptionID, deviceRowID), &f)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no license file issued yet")
	}
	if err != nil {
		return nil, s.dbErr("latest license file", err)
	}
	return &f, nil
}

// ListLicenseFiles lists issued files, newest first, each with the app's
// id of the device it is bound to.
func (s *Store) ListLicenseFiles(ctx context.Context, f syncserver.LicenseFileFilter) ([]syncserver.LicenseFileRecord, int, error) {
	w := where{}
	from := "license_files f LEFT JOIN devices d ON d.id = f.device_row_id"
	if f.SubscriptionID != "" {
		w.add("f.subscription_id = $#", f.SubscriptionID)
	}
	if f.DeviceRowID != "" {
		w.add("f.device_row_id = $#", f.DeviceRowID)
	}
	if f.CustomerID != "" {
		from += " JOIN subscriptions s ON s.id = f.subscription_id"
		w.add("s.customer_id = $#", f.CustomerID)
	}
	return page(ctx, s, "list license files", listedLicenseFileCols, from, w, "f.issued_at DESC, f.jti", f.Page, scanListedLicenseFile)
}

// GetLicenseFile finds an issued file by its id.
func (s *Store) GetLicenseFile(ctx context.Context, jti string) (*syncserver.LicenseFileRecord, error) {
	var f syncserver.LicenseFileRecord
	err := scanListedLicenseFile(s.reader().QueryRowContext(ctx, `SELECT `+listedLicenseFileCols+`
		FROM license_files f LEFT JOIN devices d ON d.id = f.device_row_id WHERE f.jti = $1`, jti), &f)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "license file %s not found", jti)
	}
	if err != nil {
		return nil, s.dbErr("get license file", err)
	}
	return &f, nil
}

const listedLicenseFileCols = "f.jti, f.subscription_id, f.device_row_id, f.revision, f.issued_at, f.expires_at, f.token, f.kid, COALESCE(d.device_id, '')"

func scanListedLicenseFile(row scanner, f *syncserver.LicenseFileRecord) error {
	return row.Scan(&f.JTI, &f.SubscriptionID, &f.DeviceRowID, &f.Revision, tm(&f.IssuedAt), tm(&f.ExpiresAt), &f.Token, &f.Kid, &f.DeviceID)
}

// LiveLicenseFilesByKey counts, per signing key, the files that have not
// expired at now.
func (s *Store) LiveLicenseFilesByKey(ctx context.Context, now time.Time) (map[string]int, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT kid, count(*) FROM license_files WHERE expires_at > $1 GROUP BY kid`, s.t(now))
	if err != nil {
		return nil, s.dbErr("count license files by key", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var kid string
		var n int
		if err := rows.Scan(&kid, &n); err != nil {
			return nil, s.dbErr("count license files by key", err)
		}
		out[kid] = n
	}
	return out, s.dbErr("count license files by key", rows.Err())
}

// AirGappedDevicesOfKey lists the air-gapped devices whose newest file, live
// at now, kid signed.
func (s *Store) AirGappedDevicesOfKey(ctx context.Context, kid string, now time.Time) ([]syncserver.Device, error) {
	cols := "d." + strings.ReplaceAll(deviceCols, ", ", ", d.")
	return queryAll(ctx, s, "air-gapped devices of a key", `SELECT `+cols+` FROM license_files f JOIN devices d ON d.id = f.device_row_id
		WHERE f.kid = $1 AND f.expires_at > $2 AND d.hostname = $3 AND d.status IN ('active', 'inactive')
		AND f.issued_at = (SELECT MAX(g.issued_at) FROM license_files g WHERE g.device_row_id = d.id)
		ORDER BY d.activated_at`, []any{kid, s.t(now), syncserver.AirGappedHostname}, scanDevice)
}
