package pickle

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/valuegen"
)

// pythonPath is Debian's Python, which sees Debian's Django (the pyenv
// python3 on PATH does not).
const pythonPath = "/usr/bin/python3"

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		if testservers.Require() {
			t.Fatalf("%s: %v (%s=1)", pythonPath, err, testservers.RequireEnv)
		}
		t.Skipf("%s not installed", pythonPath)
	}
}

// crossCheck reads JSON lines {"json": <session dict as JSON>, "pickle":
// <hex>} and answers, for each, CPython's pickle.dumps(value, 5) of the
// JSON value (strings interned, so equal strings are one object, which is
// what Encode assumes) and whether pickle.loads of our bytes equals it.
const crossCheck = `
import json, pickle, sys
def intern(v):
    if isinstance(v, str):
        return sys.intern(v)
    if isinstance(v, list):
        return [intern(x) for x in v]
    if isinstance(v, dict):
        return {intern(k): intern(x) for k, x in v.items()}
    return v
for line in sys.stdin:
    req = json.loads(line)
    v = intern(json.loads(req["json"]))
    ours = pickle.loads(bytes.fromhex(req["pickle"]))
    print(json.dumps({"dumps": pickle.dumps(v, 5).hex(), "equal": ours == v}), flush=True)
`

// TestCPythonCrossCheck pickles random session dicts (nested data,
// shared strings, big ints, batches over 1000 items, values over the
// 64 KiB frame size) and checks that CPython reads them back equal and
// writes byte-identical pickles of the same values.
func TestCPythonCrossCheck(t *testing.T) {
	requirePython(t)
	cmd := exec.Command(pythonPath, "-c", crossCheck)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer in.Close()
	out := bufio.NewReader(outPipe)
	rng := rand.New(rand.NewPCG(1, 2))
	maxLen, multiFrame := 0, 0
	defer func() { t.Logf("largest pickle %d bytes; %d pickles over the 64 KiB frame target", maxLen, multiFrame) }()
	n := 150
	if testing.Short() {
		n = 30
	}
	for i := range n {
		d := randomDict(rng, i%5 == 4)
		ours, err := Codec{MaxSize: -1}.Encode(d)
		maxLen = max(maxLen, len(ours))
		if len(ours) > frameSizeTarget {
			multiFrame++
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := codec.MarshalPython(d)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := json.Marshal(map[string]string{"json": string(js), "pickle": hex.EncodeToString(ours)})
		if _, err := in.Write(append(req, '\n')); err != nil {
			t.Fatal(err)
		}
		line, err := out.ReadBytes('\n')
		if err != nil {
			t.Fatalf("python: %v", err)
		}
		var resp struct {
			Dumps string
			Equal bool
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			t.Fatalf("python said %q: %v", line, err)
		}
		if !resp.Equal {
			t.Errorf("value %d: pickle.loads of our pickle differs from the value", i)
		}
		theirs, _ := hex.DecodeString(resp.Dumps)
		if !bytes.Equal(ours, theirs) {
			at := 0
			for at < len(ours) && at < len(theirs) && ours[at] == theirs[at] {
				at++
			}
			t.Errorf("value %d: our pickle (%d bytes) differs from CPython's (%d bytes) at offset %d", i, len(ours), len(theirs), at)
		}
		back, err := Codec{MaxSize: -1}.Decode(theirs)
		if err != nil {
			t.Fatalf("value %d: decoding CPython's pickle: %v", i, err)
		}
		equalDict(t, "cross check", back, normalize(d).(*codec.Dict))
	}
}

var strPool = []string{"a", "id", "name", "é", "☃", "😀", "", "same value", strings.Repeat("long ", 60)}

func randomString(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return strPool[rng.IntN(len(strPool))] // shared: BINGET
	}
	n := rng.IntN(12)
	if rng.IntN(20) == 0 {
		n = 200 + rng.IntN(200) // past SHORT_BINUNICODE
	}
	var b strings.Builder
	for range n {
		switch rng.IntN(7) {
		case 6:
			// A lone low surrogate (never after a high one, which JSON,
			// used to send the value to Python, would join to it).
			b.WriteString(valuegen.Surrogate(rune(0xdc00 + rng.IntN(0x400))))
		case 0:
			b.WriteRune(rune(rng.IntN(0x20))) // control characters
		case 1:
			b.WriteRune(rune(0x80 + rng.IntN(0x780)))
		case 2:
			b.WriteRune(rune(0x10000 + rng.IntN(0x1000)))
		default:
			b.WriteRune(rune('a' + rng.IntN(26)))
		}
	}
	return b.String()
}

func randomValue(rng *rand.Rand, depth int, large bool) any {
	k := rng.IntN(12)
	if depth > 4 && k >= 9 {
		k = rng.IntN(9)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return int64(rng.IntN(70000)) - 100
	case 3:
		edges := []int64{0, 255, 256, 65535, 65536, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64, -1, -128, -129, -(1 << 39)}
		return edges[rng.IntN(len(edges))]
	case 4:
		n := new(big.Int).Lsh(big.NewInt(1), uint(64+rng.IntN(3000)))
		n.Sub(n, big.NewInt(rng.Int64()))
		if rng.IntN(2) == 0 {
			n.Neg(n)
		}
		return n
	case 5:
		fs := []float64{0, math.Copysign(0, -1), 1.5, -2.25e-300, 1e300, math.Inf(1), math.Inf(-1), 0.1, rng.NormFloat64() * 1e6}
		return fs[rng.IntN(len(fs))]
	case 6, 7, 8:
		s := randomString(rng)
		if large && rng.IntN(15) == 0 {
			s = strings.Repeat(s+"x", 70000/(len(s)+1)+1) // over the frame target
		}
		return s
	case 9:
		n := rng.IntN(5)
		if large && rng.IntN(4) == 0 {
			n = 995 + rng.IntN(1010)
		}
		l := make([]any, n)
		for i := range l {
			l[i] = randomValue(rng, depth+1, large && n < 10)
		}
		return l
	default:
		n := rng.IntN(5)
		if large && rng.IntN(4) == 0 {
			n = 995 + rng.IntN(1010)
		}
		m := make(map[string]any, n)
		for range n {
			m[randomString(rng)] = randomValue(rng, depth+1, large && n < 10)
		}
		return m
	}
}

func randomDict(rng *rand.Rand, large bool) *codec.Dict {
	d := &codec.Dict{}
	for range rng.IntN(8) {
		d.Set(randomString(rng), randomValue(rng, 1, large))
	}
	return d
}

// normalize returns v with the types Decode produces.
func normalize(v any) any {
	switch x := v.(type) {
	case *codec.Dict:
		out := &codec.Dict{}
		for k, e := range x.All() {
			out.Set(k, normalize(e))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case *big.Int:
		return normInt(x)
	}
	return v
}

// TestPythonReadsEncoded checks values Python must see exactly: the
// types, NaN, and a session Django would read.
func TestPythonReadsEncoded(t *testing.T) {
	requirePython(t)
	d := dict("_auth_user_id", "1", "_session_expiry", 300, "nan", math.NaN(), "big", pow2(100), "neg", int64(-1)<<40,
		"l", []any{1, "two", nil, true, 2.5}, "m", map[string]any{"k": []any{}})
	b, err := Codec{}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	script := `import pickle, sys; v = pickle.loads(bytes.fromhex(sys.argv[1])); print(repr(v))`
	out, err := exec.Command(pythonPath, "-c", script, hex.EncodeToString(b)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v: %s", err, out)
	}
	want := "{'_auth_user_id': '1', '_session_expiry': 300, 'nan': nan, 'big': 1267650600228229401496703205376, 'neg': -1099511627776, 'l': [1, 'two', None, True, 2.5], 'm': {'k': []}}\n"
	if string(out) != want {
		t.Errorf("python read\n%s\nwant\n%s", out, want)
	}
}

// TestCPythonEditKeepsValues: a session CPython pickled, with nested dicts
// in insertion order (not sorted) and lone surrogates, is decoded, edited
// in one key and encoded by Go; CPython reads back every other value
// exactly (key order included), and Go's bytes are CPython's for the
// edited dict.
func TestCPythonEditKeepsValues(t *testing.T) {
	requirePython(t)
	const script = `
import pickle, sys
d = {"s": "x\ud800y", "lows": "\udc00\ud800", "prefs": {"zebra": 1, "apple": {"z": [1, {"y": 2, "b": 3}], "a": "\udfff"}, "mango": None}}
if sys.argv[1] == "dump":
    print(pickle.dumps(d, 5).hex())
else:
    got = pickle.loads(bytes.fromhex(sys.stdin.read()))
    want = dict(d, edited=True)
    def order(v):
        if isinstance(v, dict):
            return [(k, order(x)) for k, x in v.items()]
        if isinstance(v, list):
            return [order(x) for x in v]
        return v
    print(order(got) == order(want), pickle.dumps(want, 5).hex())
`
	out, err := exec.Command(pythonPath, "-c", script, "dump").Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	d, err := Codec{}.Decode(unhex(t, strings.TrimSpace(string(out))))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Get("s"); s != "x\xed\xa0\x80y" {
		t.Errorf("s = %q", s)
	}
	p, _ := d.Get("prefs")
	d.Set("prefs", p) // read and set back: still in CPython's order
	d.Set("edited", true)
	b, err := Codec{}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pythonPath, "-c", script, "check")
	cmd.Stdin = strings.NewReader(hex.EncodeToString(b))
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	same, theirs, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if same != "True" {
		t.Errorf("CPython reads Go's edit differently (values or key order)")
	}
	if hex.EncodeToString(b) != theirs {
		t.Errorf("Go's edit differs from CPython's pickle of the edited dict:\n got %x\nwant %s", b, theirs)
	}
}
