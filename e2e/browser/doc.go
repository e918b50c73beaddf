// Package browser holds the demo's browser tests: they build the demo
// (cmd/sessions) from the repository root, run it as a child process on
// each engine and drive it from headless Chromium through chromedp (log
// in, cart, checkout, restarts of the demo and of the browser, logout, a
// conflict merged between two tabs, and the devices page seen from two
// browser contexts).
//
// They live in the e2e module so that chromedp never enters the library's
// go.mod; `make test` runs them. Without Chromium they skip, unless
// SESSIONS_REQUIRE_SERVERS=1.
package browser
