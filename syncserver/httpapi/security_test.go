package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
	"github.com/flowlytix/licensing/syncserver/httpapi"
)

func TestTheUnboundLicenseFileIsSignedByPostAndOnlyReadByGet(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, _ := s.subscription(3)
		files := func() int {
			_, n, err := s.store.ListLicenseFiles(context.Background(), syncserver.LicenseFileFilter{SubscriptionID: subID, Page: syncserver.Page{PageSize: 10}})
			require.NoError(t, err)
			return n
		}
		before := files()
		expectError(t, s.do("GET", "/api/v1/subscriptions/"+subID+"/license-file", nil, true), 404, "not_found")
		assert.Equal(t, before, files(), "a GET signs nothing")

		r := s.do("POST", "/api/v1/subscriptions/"+subID+"/license-file", nil, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "BEGIN FLOWLYTIX LICENSE")
		assert.Equal(t, before+1, files())

		g := s.do("GET", "/api/v1/subscriptions/"+subID+"/license-file", nil, true)
		require.Equal(t, 200, g.status)
		assert.Equal(t, string(r.body), string(g.body), "the GET reads the file the POST signed")
		assert.Equal(t, before+1, files())
	})
}

func TestAnErrorMessageDoesNotEchoAHugeLiteral(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		for name, body := range map[string]string{
			"a number":    `{"email":"a@example.com","company_name":` + strings.Repeat("9", 900<<10) + `}`,
			"a name":      `{"email":"a@example.com","` + strings.Repeat("x", 900<<10) + `":1}`,
			"an exponent": `{"email":1e` + strings.Repeat("9", 900<<10) + `}`,
		} {
			t.Run(name, func(t *testing.T) {
				r := s.do("POST", "/api/v1/customers", body, true)
				expectError(t, r, 400, "invalid_request")
				assert.Less(t, len(r.body), 600, "the message is cut")
			})
		}
	})
}

func TestTheSignedRevocationListIsSignedOncePerList(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, _ := s.subscription(1)
		get := func(since string) string {
			r := s.doWith("GET", "/api/v1/revocations?since="+since, nil, true, map[string]string{"Accept": "application/jose"})
			require.Equal(t, 200, r.status, "%s", r.body)
			return string(r.body)
		}
		first := get("0")
		signed := s.svc.Signatures.Load()
		for range 20 {
			assert.Equal(t, first, get("0"))
		}
		assert.Equal(t, signed, s.svc.Signatures.Load(), "20 requests for the same list sign nothing more")

		r := s.do("POST", "/api/v1/subscriptions/"+subID+"/suspend", nil, true)
		require.Equal(t, 200, r.status)
		assert.NotEqual(t, first, get("0"), "a new entry makes a new document")
		assert.Equal(t, signed+1, s.svc.Signatures.Load())
	})
}

func TestSubscriptionsCanBeSearchedByKeyWithoutAURL(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		subID, key := s.subscription(1)
		s.subscription(1)
		r := s.do("POST", "/api/v1/subscriptions/search", `{"q":"`+key+`"}`, true)
		require.Equal(t, 200, r.status, "%s", r.body)
		items := r.json(t)["items"].([]any)
		require.Len(t, items, 1)
		assert.Equal(t, subID, items[0].(map[string]any)["id"])
		expectError(t, s.do("POST", "/api/v1/subscriptions/search", `{"status":"gone"}`, true), 400, "invalid_request")
		expectError(t, s.do("POST", "/api/v1/subscriptions/search", `{"license_key":"x"}`, true), 400, "invalid_request")
	})
}

func TestAnAPITokensLastUseIsRecorded(t *testing.T) {
	eachBackend(t, httpapi.Limits{}, func(t *testing.T, s *server) {
		before, err := s.svc.ListAPITokens(context.Background())
		require.NoError(t, err)
		require.Len(t, before, 1)
		require.Nil(t, before[0].LastUsedAt, "not used yet")
		for range 3 {
			require.Equal(t, 200, s.do("GET", "/api/v1/customers", nil, true).status)
		}
		after, err := s.svc.ListAPITokens(context.Background())
		require.NoError(t, err)
		require.NotNil(t, after[0].LastUsedAt, "the use is recorded")
	})
}
