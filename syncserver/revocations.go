package syncserver

import (
	"context"
	"sync"

	"github.com/flowlytix/licensing/license"
)

// MaxRevocationPage bounds one page of a revocation list; a longer list is
// read page by page, from the cursor each page returns.
const MaxRevocationPage = 10000

// Revocations returns a page of the whole revocation list after a cursor
// (every subscription's entries: for admins), at most limit entries (0:
// MaxRevocationPage), and the cursor to ask from next.
func (s *Service) Revocations(ctx context.Context, since int64, limit int) ([]Revocation, int64, error) {
	if since < 0 {
		return nil, 0, invalidf("since must not be negative")
	}
	if limit <= 0 || limit > MaxRevocationPage {
		limit = MaxRevocationPage
	}
	return s.store.RevocationsSince(ctx, since, limit)
}

// SubscriptionRevocations returns a page of one subscription's entries
// after a cursor (for admins), and the cursor to ask from next.
func (s *Service) SubscriptionRevocations(ctx context.Context, subscriptionID string, since int64, limit int) ([]Revocation, int64, error) {
	if since < 0 {
		return nil, 0, invalidf("since must not be negative")
	}
	if _, err := s.store.GetSubscription(ctx, subscriptionID); err != nil {
		return nil, 0, err
	}
	if limit <= 0 || limit > MaxRevocationPage {
		limit = MaxRevocationPage
	}
	return s.store.SubscriptionRevocations(ctx, subscriptionID, since, limit)
}

// SignedRevocations returns a page of the whole revocation list after a
// cursor as a JWS signed with the license key, for carrying to air-gapped
// machines. Entries never change once written, so a document is signed
// once per page and key and then served from memory: a signature costs
// milliseconds of CPU.
func (s *Service) SignedRevocations(ctx context.Context, since int64, limit int) (string, int64, error) {
	revs, cursor, err := s.Revocations(ctx, since, limit)
	if err != nil {
		return "", 0, err
	}
	k, err := s.Keys().Active()
	if err != nil {
		return "", 0, err
	}
	// Every since before the first entry returned yields this same list.
	from := cursor
	if len(revs) > 0 {
		from = revs[0].Seq - 1
	}
	key := revocationDocKey{from: from, cursor: cursor, kid: k.ID}
	if doc, ok := s.revocationDocs.get(key); ok {
		return doc, cursor, nil
	}
	doc, err := s.signRevocations(revs, cursor)
	if err != nil {
		return "", 0, err
	}
	s.revocationDocs.put(key, doc)
	return doc, cursor, nil
}

// SignedSubscriptionRevocations is SubscriptionRevocations as a signed
// list: what an admin hands an air-gapped customer.
func (s *Service) SignedSubscriptionRevocations(ctx context.Context, subscriptionID string, since int64, limit int) (string, int64, error) {
	revs, cursor, err := s.SubscriptionRevocations(ctx, subscriptionID, since, limit)
	if err != nil {
		return "", 0, err
	}
	doc, err := s.signRevocations(revs, cursor)
	return doc, cursor, err
}

// signRevocations signs a list of entries and the cursor after them.
func (s *Service) signRevocations(revs []Revocation, cursor int64) (string, error) {
	k, err := s.Keys().Active()
	if err != nil {
		return "", err
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

// SignedRevocationList signs every entry, of one subscription or (with
// subscriptionID empty) of all, read page by page into one list: what an
// air-gapped machine imports whole, however long the list has grown.
func (s *Service) SignedRevocationList(ctx context.Context, subscriptionID string) (string, error) {
	var all []Revocation
	var cursor int64
	for {
		var page []Revocation
		var next int64
		var err error
		if subscriptionID != "" {
			page, next, err = s.SubscriptionRevocations(ctx, subscriptionID, cursor, MaxRevocationPage)
		} else {
			page, next, err = s.Revocations(ctx, cursor, MaxRevocationPage)
		}
		if err != nil {
			return "", err
		}
		all, cursor = append(all, page...), next
		if len(page) < MaxRevocationPage {
			break
		}
	}
	return s.signRevocations(all, cursor)
}
