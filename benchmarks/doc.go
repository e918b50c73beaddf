// Package benchmarks measures every sessionkit engine through the real
// middleware, beside the raw store operations a request cannot avoid and
// the Go libraries users would otherwise pick (alexedwards/scs and
// gorilla/sessions), in one run: per request (separately and interleaved
// in one loop), through a delaying proxy, by session size, under parallel
// load, and under wrk against a real server (cmd/loadserver). It is its
// own module so the peers never enter users' go.mod. Run it with `make
// bench`, which starts the servers and writes RESULTS.md and its charts;
// FINDINGS.md explains where the time and the waits go.
package benchmarks
