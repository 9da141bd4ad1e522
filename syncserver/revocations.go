package syncserver

import (
	"context"
	"sync"

	"github.com/flowlytix/licensing/license"
)

// Revocations returns the revocation list after a cursor.
func (s *Service) Revocations(ctx context.Context, since int64) ([]Revocation, int64, error) {
	if since < 0 {
		return nil, 0, invalidf("since must not be negative")
	}
	return s.store.RevocationsSince(ctx, since, 10000)
}

// SignedRevocations returns the revocation list after a cursor as a JWS
// signed with the license key, for carrying to air-gapped machines. Entries
// never change once written, so a document is signed once per list and key
// and then served from memory: the route needs no credentials, and a
// signature costs milliseconds of CPU.
func (s *Service) SignedRevocations(ctx context.Context, since int64) (string, error) {
	revs, cursor, err := s.Revocations(ctx, since)
	if err != nil {
		return "", err
	}
	k, err := s.Keys().Active()
	if err != nil {
		return "", err
	}
	// Every since before the first entry returned yields this same list.
	from := cursor
	if len(revs) > 0 {
		from = revs[0].Seq - 1
	}
	key := revocationDocKey{from: from, cursor: cursor, kid: k.ID}
	if doc, ok := s.revocationDocs.get(key); ok {
		return doc, nil
	}
	if revs == nil {
		revs = []Revocation{}
	}
	doc, err := license.SignJSON(k.Signer(), k.ID, license.RevocationListType, license.RevocationList{
		Issuer: license.Issuer, IssuedAt: s.Now().Unix(), Revocations: revs, Cursor: cursor,
		KeyEndorsement: k.Endorsement, KeyRevocations: s.RootKeyRevocations(),
	})
	if err != nil {
		return "", err
	}
	s.Signatures.Add(1)
	s.revocationDocs.put(key, doc)
	return doc, nil
}

type revocationDocKey struct {
	from, cursor int64
	kid          string
}

// revocationDocCache holds signed revocation lists; it empties itself when
// full, which only costs a signature per list asked for again.
type revocationDocCache struct {
	mu   sync.Mutex
	docs map[revocationDocKey]string
}

const revocationDocCacheSize = 256

func (c *revocationDocCache) get(k revocationDocKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.docs[k]
	return d, ok
}

func (c *revocationDocCache) put(k revocationDocKey, doc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil || len(c.docs) >= revocationDocCacheSize {
		c.docs = make(map[revocationDocKey]string)
	}
	c.docs[k] = doc
}

// clear forgets every document: the key set changed (an endorsement or a
// root's statement came in), and the documents carry them.
func (c *revocationDocCache) clear() {
	c.mu.Lock()
	c.docs = nil
	c.mu.Unlock()
}
