package license

import "testing"

// SignRawSyncRequestForTest signs payload JSON as a sync request with a
// fresh device key, whatever it says: the tests' way to reach the
// payload rules behind a good signature.
func SignRawSyncRequestForTest(tb testing.TB, payload []byte) []byte {
	tb.Helper()
	k, err := NewDeviceKey()
	if err != nil {
		tb.Fatal(err)
	}
	zipped, err := deflate(payload)
	if err != nil {
		tb.Fatal(err)
	}
	header := `{"alg":"ES256","jwk":` + string(k.pub) + `,"typ":"` + SyncRequestType + `"}`
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(zipped)
	sig, err := k.sign([]byte(input))
	if err != nil {
		tb.Fatal(err)
	}
	return armorWith(SyncRequestBeginLine, SyncRequestEndLine, input+"."+b64.EncodeToString(sig))
}
