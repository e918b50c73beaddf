package sqlstore_test

import (
	"os"
	"os/exec"
	"testing"
)

// TestExpiryInAnotherTimeZone runs the expiry cases of the suite (the
// stored expiry read back by LoadExpiry and by the user index) in a
// process whose local time zone is not UTC: a driver may hand back an
// instant in time.Local (pgx's timestamptz), or a naive UTC datetime
// read as local time (MySQL with loc=Local, mattn's _loc=auto), and
// only the second is to be read as UTC.
func TestExpiryInAnotherTimeZone(t *testing.T) {
	if os.Getenv("SQLSTORE_TZ_CHILD") != "" {
		t.Skip("in the child")
	}
	if testing.Short() {
		t.Skip("runs the suite's expiry cases in a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.run",
		"^TestConformance(SQLite|Postgres|MariaDB)$/^(ExpiryReaderAgrees|UserIndexMeta)$")
	cmd.Env = append(os.Environ(), "TZ=America/New_York", "SQLSTORE_TZ_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("with TZ=America/New_York: %v\n%s", err, out)
	}
}
