// Package pickle checks the pickle codec (codec/pickle) against an
// independent Go decoder, github.com/kisielk/og-rek, beside the codec's
// own tests against CPython. It lives in the e2e module so that og-rek
// never enters the library's go.mod.
package pickle
