// Package chi shows that a net/http router needs no adapter: chi's
// middleware is func(http.Handler) http.Handler, which is
// sessions.Manager.Handler's shape, so the session middleware is one
// r.Use call. (The example lives in the e2e module so that chi never
// enters the library's go.mod.)
package chi
