package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// Configuration mistakes are errors, never silently ignored, and the
// errors quote no password and no endless string.
func TestConfigMistakes(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("d", 5000)
	pg := fmt.Sprintf("127.0.0.1:%d", testservers.SharedPostgres(t).Port)
	my := fmt.Sprintf("127.0.0.1:%d", testservers.SharedMariaDB(t).Port)
	cases := map[string]string{
		"sqlite://" + dir + "/x.db?create_table=true&create_table=false": "create_table is given 2 times",
		"sqlite://" + dir + "/x.db?table=a&table=b&create_table=true":    "table is given 2 times",
		"sqlite://" + dir + "/x.db?create_table=true#S3cr3t":             "'#'",
		"sqlite://" + dir + "/x.db?create_table=true;password=S3cr3t":    "';'",
		"sqlite://" + dir + "/x.db?password=S3cr3t":                      "unknown parameter password",
		"sqlite://" + long + "/x.db":                                     "no host",
		"sqlite:///" + dir + "/" + long + "/x.db?create_table=true":      "",

		"postgres://postgres:pwS3cr3t@" + pg + "/sessions?sslmode=disable&sslmode=require": "sslmode is given 2 times",
		"postgres://postgres@" + pg + "/sessions?max_open_conns=2&max_open_conns=abc":      "max_open_conns is given 2 times",
		"postgres://postgres:pwS3cr3t@" + pg + "/sessions?password=otherS3cr3t":            "the password is given twice",
		"postgres://postgres@" + pg + "/sessions?user=other":                               "the user name is given twice",
		"postgres://postgres@" + pg + "/sessions?host=/tmp":                                "the host is given twice",
		"postgres://postgres@" + pg + "/sessions?port=5432":                                "the port is given twice",
		"postgres://postgres@" + pg + "/sessions?dbname=other":                             "the database name is given twice",
		"postgres://postgres@" + pg + "/sessions/extra":                                    "names one database",
		"postgres://postgres:12/S3cr3t@" + pg + "/sessions":                                "'@' after the host",
		"postgres://postgres:12#S3cr3t@" + pg + "/sessions":                                "'#'",
		"postgres://postgres:p%zzS3cr3t@" + pg + "/sessions":                               "does not parse",
		"postgres://postgres@" + pg + "/sessions?sslmode=disable&options=" + long:          "",

		"mysql://root:pwS3cr3t@" + my + "/sessions?charset=utf8&charset=latin1": "charset is given 2 times",
		"mysql://root:pwS3cr3t@" + my + "/sessions?table=a&table=b":             "table is given 2 times",
		"mysql://root:pwS3cr3t@" + my + "/sessions?password=S3cr3t":             "unknown parameter password",
		"mysql://root:pwS3cr3t@" + my + "/sessions#S3cr3t":                      "'#'",
		"mysql://root:pw/S3cr3t@" + my + "/sessions":                            "does not parse",
		"mysql://root:12/S3cr3t@" + my + "/sessions":                            "'@' after the host",
		"mysql://root:pwS3cr3t@" + my + "/" + long:                              "",
	}
	for cfg, want := range cases {
		testutil.Refused(t, cfg, openErr(cfg), want, 900)
	}
}
