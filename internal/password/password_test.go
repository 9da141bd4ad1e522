package password_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/password"
)

func TestPasswordsAreArgon2idAndChecked(t *testing.T) {
	const pw = "correct horse battery"
	h, err := password.Hash(pw)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	assert.True(t, password.Matches(h, pw))
	assert.False(t, password.Matches(h, pw+"x"))
	assert.False(t, password.Matches("$argon2id$garbage", pw))
	h2, _ := password.Hash(pw)
	assert.NotEqual(t, h, h2, "salted")
	ok, err := password.Verify(context.Background(), "", pw)
	require.NoError(t, err)
	assert.False(t, ok, "an unknown account never matches")
}

func TestThePolicy(t *testing.T) {
	ctx := context.Background()
	current, err := password.Hash("the current passphrase")
	require.NoError(t, err)
	for _, tc := range []struct {
		name, pw, want string
	}{
		{"twelve characters of any script pass", "密码密码密码密码密码密码", ""},
		{"four CJK characters are 12 bytes but 4 characters", "密码密码", "at least 12 characters; this one has 4"},
		{"a common password, in any case", "PASSWORD1234", "most common"},
		{"the email", "Admin@Example.com", "email address"},
		{"the email's name part", "administrator.jones", "name part"},
		{"the current password", "the current passphrase", "current one"},
		{"over the byte limit", strings.Repeat("x", password.MaxBytes+1), "at most"},
		{"a fine passphrase", "staple orbit lantern", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := "admin@example.com"
			if strings.Contains(tc.name, "name part") {
				email = "administrator.jones@example.com"
			}
			err := password.Check(ctx, tc.pw, email, current)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			var pe *password.PolicyError
			require.ErrorAs(t, err, &pe)
			assert.Contains(t, pe.Reason, tc.want)
		})
	}
}

func TestTheCommonListHoldsAtLeastTenThousand(t *testing.T) {
	n := 0
	for _, w := range []string{"123456", "password", "qwerty", "dragon", "iloveyou", "monkey"} {
		assert.True(t, password.IsCommon(w), w)
	}
	assert.False(t, password.IsCommon("staple orbit lantern"))
	for _, line := range strings.Split(password.CommonText(), "\n") {
		if line != "" {
			n++
		}
	}
	assert.GreaterOrEqual(t, n, 10_000)
}
