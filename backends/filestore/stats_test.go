package filestore

import (
	"testing"

	"github.com/sessionkit/sessions/internal/counttest"
)

func TestCount(t *testing.T) {
	counttest.Check(t, newStore(t))
}
