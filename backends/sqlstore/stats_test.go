package sqlstore_test

import (
	"testing"

	"github.com/sessionkit/sessions/internal/counttest"
)

// Count agrees with List, DeleteExpired and UserSessions on each
// database, the user index table included (created by the first
// AddUserSession: before it, no user is indexed).
func TestCount(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		counttest.Check(t, fresh(t, b))
	})
}
