// The e2e module holds the tests whose dependencies must not enter the
// library's go.mod (chromedp for the demo's browser tests, og-rek as an
// independent pickle reader, chi for the router example). make test runs
// them.
module github.com/sessionkit/sessions/e2e

go 1.26.0

replace github.com/sessionkit/sessions => ../

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/kisielk/og-rek v1.3.0
	github.com/sessionkit/sessions v0.0.0-00010101000000-000000000000
)

require (
	github.com/aristanetworks/gomap v0.0.0-20230726210543-f4e41046dced // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	golang.org/x/crypto v0.56.0 // indirect
	golang.org/x/exp v0.0.0-20230725093048-515e97ebf090 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
