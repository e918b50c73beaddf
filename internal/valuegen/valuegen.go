// Package valuegen is test support for the codecs' property tests: it
// generates random session values (nested lists and maps, integers of every
// size, floats, strings of random bytes with surrogates), predicts whether
// a codec must accept them, and compares decoded values with the originals
// modulo the codecs' documented type normalisation.
//
// It is written independently of the codecs it tests: the predictions are
// made from the documented limits, not from the codecs' code.
package valuegen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// SeedEnv names the environment variable that replaces the random seed of
// [Seeds], to replay a failure.
const SeedEnv = "SESSIONS_PROPERTY_SEED"

// Seeds returns the seeds a property test runs with: a fixed one, so a
// regression is caught on every run, and a random one (or $SESSIONS_PROPERTY_SEED),
// logged so that a failure can be replayed.
func Seeds(t testing.TB) []uint64 {
	t.Helper()
	r := uint64(time.Now().UnixNano())
	if s := os.Getenv(SeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		r = n
	}
	t.Logf("random seed %d (replay with %s=%d)", r, SeedEnv, r)
	return []uint64{1, r}
}

// Limits are what a codec accepts.
type Limits struct {
	MaxDepth     int // deepest nesting of containers; the session dict is level 1
	MaxIntDigits int // longest integer in decimal digits (JSON: Python's 4300); 0: no limit
	MaxIntBytes  int // longest integer in two's complement bytes (pickle); 0: no limit
}

// Gen generates random values.
type Gen struct {
	R *rand.Rand
	// Limits steer the generator to the edges: nesting chains and integers
	// just under, at and just over them.
	Limits Limits
}

// New returns a generator seeded with seed.
func New(seed uint64, l Limits) *Gen {
	return &Gen{R: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Limits: l}
}

var strPool = []string{"", "a", "id", "name", "é", "☃", "😀", "same value", "x\xed\xa0\x80y"}

// String returns a random string: usually valid UTF-8, sometimes holding
// surrogate code points in their 3-byte form (ED A0..BF xx, a lone
// surrogate as Python's "surrogatepass" writes it; a high one followed by a
// low one now and then), and sometimes invalid bytes.
func (g *Gen) String(allowInvalid bool) string {
	r := g.R
	if r.IntN(4) == 0 {
		return strPool[r.IntN(len(strPool))]
	}
	n := r.IntN(10)
	var b strings.Builder
	for range n {
		switch k := r.IntN(20); {
		case k == 0:
			b.WriteByte(byte(r.IntN(0x20))) // control
		case k == 1:
			b.WriteString(`"\/`[r.IntN(3):][:1])
		case k == 2:
			b.WriteRune(rune(0x80 + r.IntN(0x80))) // Latin-1 range
		case k == 3:
			b.WriteRune(rune(0x100 + r.IntN(0xd700))) // BMP below the surrogates
		case k == 4:
			b.WriteRune(rune(0xe000 + r.IntN(0x2000))) // BMP above, incl. U+FFFD
		case k == 5:
			b.WriteRune(rune(0x10000 + r.IntN(0x100000))) // astral
		case k == 6:
			b.WriteString(Surrogate(rune(0xd800 + r.IntN(0x800)))) // lone surrogate
		case k == 7 && r.IntN(3) == 0:
			// A high surrogate followed by a low one, each in 3 bytes.
			b.WriteString(Surrogate(rune(0xd800+r.IntN(0x400))) + Surrogate(rune(0xdc00+r.IntN(0x400))))
		case k == 8 && allowInvalid && r.IntN(3) == 0:
			bad := []string{"\xff", "\x80", "\xc3", "\xe2\x98", "\xf0\x9f\x98", "\xc0\x80", "\xed\xa0", "\xf4\x90\x80\x80", "\xfe\xfe"}
			b.WriteString(bad[r.IntN(len(bad))])
		default:
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return b.String()
}

// Surrogate returns the 3-byte generalized UTF-8 form of a surrogate code
// point (Python's "surrogatepass" encoding).
func Surrogate(r rune) string {
	return string([]byte{0xe0 | byte(r>>12), 0x80 | byte(r>>6)&0x3f, 0x80 | byte(r)&0x3f})
}

// Key returns a random map key: as String, but without surrogate pairs
// (which JSON merges into one character, so two keys could collide).
func (g *Gen) Key(allowInvalid bool) string {
	for {
		s := g.String(allowInvalid)
		if !hasPair(s) {
			return s
		}
	}
}

// Int returns a random integer of some Go integer type, or a *big.Int,
// sometimes just under, at or over the integer limits.
func (g *Gen) Int() any {
	r := g.R
	switch r.IntN(10) {
	case 0:
		edges := []int64{0, -1, 255, 256, 65535, 65536, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
		return edges[r.IntN(len(edges))]
	case 1:
		return []any{int(r.Int64()), int8(r.Int32()), int16(r.Int32()), int32(r.Int32()), uint(r.Uint64()), uint8(r.Uint32()), uint16(r.Uint32()), uint32(r.Uint32()), r.Uint64()}[r.IntN(9)]
	case 2, 3:
		n := new(big.Int).Lsh(big.NewInt(1), uint(64+r.IntN(300)))
		n.Sub(n, big.NewInt(r.Int64()))
		if r.IntN(2) == 0 {
			n.Neg(n)
		}
		return n
	case 4:
		if g.Limits.MaxIntDigits > 0 && r.IntN(3) == 0 {
			// 10^(d-1) .. 10^d - 1 has d digits; d around the limit.
			d := g.Limits.MaxIntDigits - 2 + r.IntN(5)
			n := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d-1)), nil)
			if r.IntN(2) == 0 {
				n.Mul(n, big.NewInt(9)) // still d digits
			}
			if r.IntN(2) == 0 {
				n.Neg(n)
			}
			return n
		}
		if g.Limits.MaxIntBytes > 0 && r.IntN(3) == 0 {
			bits := 8*g.Limits.MaxIntBytes - 10 + r.IntN(20)
			n := new(big.Int).Lsh(big.NewInt(1), uint(bits))
			switch r.IntN(3) {
			case 0:
				n.Sub(n, big.NewInt(1))
			case 1:
				n.Neg(n)
			}
			return n
		}
		return int64(r.IntN(1000))
	case 5:
		return json.Number([]string{"0", "-1", "12345678901234567890123", "1.5", "1e5", "-0.0", "1E400", "2.5e-3"}[r.IntN(8)])
	}
	return r.Int64N(100000) - 50000
}

// Float returns a random float64 (or float32), edges included.
func (g *Gen) Float() any {
	r := g.R
	fs := []float64{0, math.Copysign(0, -1), 1, 100, 1.5, 0.1, 1e16, 1e-7, 5e-324, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN()}
	switch r.IntN(4) {
	case 0:
		return fs[r.IntN(len(fs))]
	case 1:
		return float32(r.NormFloat64())
	case 2:
		return math.Float64frombits(r.Uint64()) // any bit pattern, NaN payloads too
	}
	return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
}

// Value returns a random value to store at nesting level outer (the
// number of containers around it; 1 for a session value).
func (g *Gen) Value(outer int, allowInvalid bool) any {
	r := g.R
	if g.Limits.MaxDepth > 0 && r.IntN(60) == 0 {
		// A chain of containers ending exactly at, just under or just
		// over the deepest level allowed.
		levels := g.Limits.MaxDepth - outer - 1 + r.IntN(4)
		v := g.scalar(allowInvalid)
		if r.IntN(2) == 0 {
			v = []any{}
		}
		for range levels {
			if r.IntN(2) == 0 {
				v = []any{v}
			} else {
				v = map[string]any{g.Key(false): v}
			}
		}
		return v
	}
	k := r.IntN(10)
	if outer > 4 {
		k = r.IntN(7)
	}
	switch k {
	case 7, 8:
		n := r.IntN(5)
		l := make([]any, n)
		for i := range l {
			l[i] = g.Value(outer+1, allowInvalid)
		}
		if n > 0 && r.IntN(8) == 0 {
			s := make([]string, n)
			for i := range s {
				s[i] = g.String(allowInvalid)
			}
			return s
		}
		return l
	case 9:
		n := r.IntN(6)
		m := make(map[string]any, n)
		for range n {
			m[g.Key(allowInvalid)] = g.Value(outer+1, allowInvalid)
		}
		return m
	}
	return g.scalar(allowInvalid)
}

func (g *Gen) scalar(allowInvalid bool) any {
	switch g.R.IntN(7) {
	case 0:
		return nil
	case 1:
		return g.R.IntN(2) == 0
	case 2, 3:
		return g.Int()
	case 4:
		return g.Float()
	}
	return g.String(allowInvalid)
}

// Fault returns why a codec with limits l must refuse v, stored inside
// outer containers, or "" if it must accept it. surrogates tells whether
// surrogate code points (3-byte form) are legal strings.
func Fault(v any, outer int, l Limits) string {
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return ""
	case string:
		return stringFault(x)
	case json.Number:
		n, err := Number(x)
		if err != nil {
			return err.Error()
		}
		return Fault(n, outer, l)
	case *big.Int:
		if x == nil {
			return ""
		}
		if l.MaxIntDigits > 0 {
			d := len(new(big.Int).Abs(x).String())
			if d > l.MaxIntDigits {
				return fmt.Sprintf("integer of %d digits", d)
			}
		}
		if l.MaxIntBytes > 0 {
			if n := twosComplementLen(x); n > l.MaxIntBytes {
				return fmt.Sprintf("integer of %d bytes", n)
			}
		}
		return ""
	case []string:
		if outer+1 > l.MaxDepth {
			return "too deep"
		}
		for _, s := range x {
			if f := stringFault(s); f != "" {
				return f
			}
		}
		return ""
	case []any:
		if outer+1 > l.MaxDepth {
			return "too deep"
		}
		for _, e := range x {
			if f := Fault(e, outer+1, l); f != "" {
				return f
			}
		}
		return ""
	case map[string]any:
		if outer+1 > l.MaxDepth {
			return "too deep"
		}
		// Any fault makes the value unencodable; which one is reported
		// does not matter here.
		for k, e := range x {
			if f := stringFault(k); f != "" {
				return f
			}
			if f := Fault(e, outer+1, l); f != "" {
				return f
			}
		}
		return ""
	}
	return fmt.Sprintf("unexpected type %T", v)
}

func twosComplementLen(n *big.Int) int {
	if n.Sign() >= 0 {
		return n.BitLen()/8 + 1
	}
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	return m.BitLen()/8 + 1
}

// stringFault reports bytes that are neither UTF-8 nor a surrogate in its
// 3-byte form.
func stringFault(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			if isSurrogateAt(s, i) {
				i += 3
				continue
			}
			return fmt.Sprintf("invalid UTF-8 byte %#x", s[i])
		}
		i += n
	}
	return ""
}

func isSurrogateAt(s string, i int) bool {
	return i+2 < len(s) && s[i] == 0xed && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2] >= 0x80 && s[i+2] <= 0xbf
}

func surrogateAt(s string, i int) rune {
	return rune(s[i]&0x0f)<<12 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f)
}

func hasPair(s string) bool {
	for i := 0; i+5 < len(s); i++ {
		if isSurrogateAt(s, i) && isSurrogateAt(s, i+3) && surrogateAt(s, i) < 0xdc00 && surrogateAt(s, i+3) >= 0xdc00 {
			return true
		}
	}
	return false
}

// mergePairs replaces each high surrogate followed by a low one (3 bytes
// each) with the character they encode in UTF-16, as a JSON round trip
// does (Python's too: json.loads joins "\ud83d\ude00").
func mergePairs(s string) string {
	if !hasPair(s) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); {
		if isSurrogateAt(s, i) && isSurrogateAt(s, i+3) {
			hi, lo := surrogateAt(s, i), surrogateAt(s, i+3)
			if hi < 0xdc00 && lo >= 0xdc00 {
				b = utf8.AppendRune(b, 0x10000+(hi-0xd800)<<10+(lo-0xdc00))
				i += 6
				continue
			}
		}
		b = append(b, s[i])
		i++
	}
	return string(b)
}

// Number converts a json.Number as a JSON decoder reads the literal.
func Number(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, ok := new(big.Int).SetString(s, 10); ok {
			return i, nil
		}
		return nil, fmt.Errorf("invalid json.Number %q", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return nil, fmt.Errorf("invalid json.Number %q", s)
	}
	return f, nil
}

// Normalize returns v with the types a decoder gives back: int64 (or
// *big.Int beyond 64 bits), float64, []any, map[string]any. With json set,
// surrogate pairs in strings become the character they encode, as JSON
// carries them.
func Normalize(v any, json bool) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return normBig(new(big.Int).SetUint64(uint64(x)))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return normBig(new(big.Int).SetUint64(x))
	case float32:
		return float64(x)
	case *big.Int:
		if x == nil {
			return nil
		}
		return normBig(x)
	case jsonNumber:
		n, _ := Number(x)
		return Normalize(n, json)
	case string:
		if json {
			return mergePairs(x)
		}
		return x
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e, json)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e, json)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[Normalize(k, json).(string)] = Normalize(e, json)
		}
		return out
	}
	return v
}

type jsonNumber = json.Number

func normBig(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// Equal compares normalized values: floats by bits (NaNs all equal, -0
// distinct from 0), *big.Int by value, maps regardless of order.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y))
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, Equal)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !Equal(e, f) {
				return false
			}
		}
		return true
	case nil, bool, int64, string:
		return a == b
	}
	return false
}

// Stats tallies what a property test exercised, to show that it reached
// the limits from both sides.
type Stats struct {
	Accepted, Refused int
	// MaxLevel, MaxDigits and MaxBytes are the deepest nesting and the
	// longest integer among accepted values.
	MaxLevel, MaxDigits, MaxBytes int
	// Faults counts refused values by kind: "depth", "int", "utf8".
	Faults map[string]int
}

// Add records a value stored inside outer containers and the fault
// predicted for it.
func (s *Stats) Add(v any, outer int, fault string) {
	if s.Faults == nil {
		s.Faults = map[string]int{}
	}
	if fault != "" {
		s.Refused++
		switch {
		case fault == "too deep":
			s.Faults["depth"]++
		case strings.HasPrefix(fault, "integer"):
			s.Faults["int"]++
		default:
			s.Faults["utf8"]++
		}
		return
	}
	s.Accepted++
	s.walk(v, outer)
}

func (s *Stats) walk(v any, outer int) {
	switch x := v.(type) {
	case *big.Int:
		if x != nil {
			s.MaxDigits = max(s.MaxDigits, len(new(big.Int).Abs(x).String()))
			s.MaxBytes = max(s.MaxBytes, twosComplementLen(x))
		}
	case []any:
		s.MaxLevel = max(s.MaxLevel, outer+1)
		for _, e := range x {
			s.walk(e, outer+1)
		}
	case []string:
		s.MaxLevel = max(s.MaxLevel, outer+1)
	case map[string]any:
		s.MaxLevel = max(s.MaxLevel, outer+1)
		for _, e := range x {
			s.walk(e, outer+1)
		}
	}
}

func (s Stats) String() string {
	return fmt.Sprintf("%d accepted (deepest %d levels, longest int %d digits, %d bytes), %d refused %v",
		s.Accepted, s.MaxLevel, s.MaxDigits, s.MaxBytes, s.Refused, s.Faults)
}
