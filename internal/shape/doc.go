// Package shape holds checks of the module's shape, run by go test (and
// so by make test):
//
//   - no function in the root module's non-test code is longer than
//     MaxLines lines, so that a reader can hold each one at once; a longer
//     function is split along its natural steps, each a named function
//     with a doc comment. Generated files (marked "Code generated ... DO
//     NOT EDIT.", whose source is the generator) and the functions named
//     in Exempt, each with the reason, are exempt;
//   - cmd/sessions asks the Manager (Describe, Keys, Inspect, Stats...)
//     what an engine can do and never type-asserts one to an engine
//     interface of package sessions.
package shape

// MaxLines is the longest a function may be, counted from the line of
// its func keyword to the line of its closing brace, doc comment aside.
const MaxLines = 100

// Exempt names the functions allowed to be longer than MaxLines, by
// package path relative to the module root and function name (with its
// receiver type for a method), each with the reason.
var Exempt = map[string]string{
	"codec/pickle.decoder.run":     "the pickle VM: one switch over the opcodes, which reads best whole, each case beside its siblings",
	"codec/pickle.fastDecoder.run": "the fast path's VM: one switch over the opcodes it takes, which reads best whole and beside the general decoder's",
}
