package memcachestore

import (
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions/internal/testservers"
)

func TestExpiration(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &Store{now: func() time.Time { return now }}
	for _, tc := range []struct {
		in   time.Duration
		want int64
		ok   bool
	}{
		{-time.Hour, -1, false},
		{0, -1, false},
		{time.Nanosecond, 2, true},           // rounded up, plus the clock's second
		{time.Second, 2, true},               // an item of N s lives N-1 to N s
		{1500 * time.Millisecond, 3, true},   //
		{30 * 24 * time.Hour, 2592001, true}, // one second over 30 days: absolute
		{30*24*time.Hour - time.Second, 2592000, true},
		{31 * 24 * time.Hour, now.Add(31*24*time.Hour).Unix() + 2, true},
	} {
		exp, ok := s.expiration(now.Add(tc.in))
		want := tc.want
		if want == 2592001 {
			want = now.Add(tc.in).Unix() + 2
		}
		if int64(exp) != want || ok != tc.ok {
			t.Errorf("expiry in %v: %d, %v; want %d, %v", tc.in, exp, ok, want, tc.ok)
		}
	}
	if exp, _ := s.expiration(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); exp != math.MaxInt32 {
		t.Errorf("expiry after 2038: %d, want the cap %d", exp, math.MaxInt32)
	}
	// As far off as a time.Duration counts (and beyond): the rounding
	// must not overflow into a past exptime.
	for _, far := range []time.Time{now.Add(math.MaxInt64), now.AddDate(1000, 0, 0)} {
		if exp, ok := s.expiration(far); exp != math.MaxInt32 || !ok {
			t.Errorf("expiry %v: %d, %v; want the cap %d", far, exp, ok, math.MaxInt32)
		}
	}
}

func TestMurmur3(t *testing.T) {
	for s, want := range map[string]uint32{
		"":      0,
		"hello": 0x248bfa47,
		"a":     0x3c2569b2,
		"abcd":  0x43ed676a,
		"abcde": 0xe89b9af6,
	} {
		if got := murmur3(s); got != want {
			t.Errorf("murmur3(%q) = %#x, want %#x", s, got, want)
		}
	}
}

// TestPymemcacheAgrees compares the server chosen for many keys with
// pymemcache's HashClient, which Django's PyMemcacheCache uses.
func TestPymemcacheAgrees(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import pymemcache").Run(); err != nil {
		if testservers.Require() {
			t.Fatalf("%s with pymemcache: %v", python, err)
		}
		t.Skipf("%s with pymemcache: %v", python, err)
	}
	servers := []string{"127.0.0.1:11211", "127.0.0.2:11311", "127.0.0.3", "[::1]:11411"}
	var keys []string
	for i := range 500 {
		keys = append(keys, ":1:django.contrib.sessions.cache"+strconv.Itoa(i*7919)+"abcdefghijklmnopqrstuvw"[:i%24])
	}
	script := `
import sys
from pymemcache.client.hash import HashClient
c = HashClient(sys.argv[1].split(","))
for k in sys.stdin.read().split():
    print(c.hasher.get_node(k))
`
	cmd := exec.Command(python, "-c", script, strings.Join(servers, ","))
	cmd.Stdin = strings.NewReader(strings.Join(keys, "\n"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	nodes := strings.Fields(string(out))
	sel, err := NewPymemcacheSelector(servers...)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != len(keys) {
		t.Fatalf("python gave %d nodes for %d keys", len(nodes), len(keys))
	}
	used := map[string]int{}
	for i, k := range keys {
		a, _ := sel.PickServer(k)
		var got string
		for j, addr := range sel.addrs {
			if addr == a {
				got = sel.nodes[j]
			}
		}
		used[got]++
		if got != nodes[i] {
			t.Errorf("key %q: %s, pymemcache picks %s", k, got, nodes[i])
		}
	}
	if len(used) != len(servers) {
		t.Errorf("keys went to %v", used)
	}
}

// TestPickServerAllocatesNothing: picking a server, and the string form
// of its address that gomemcache asks for twice per call (to take an idle
// connection and to put it back), cost no allocation. A *net.TCPAddr
// formats itself anew each time, and the node-and-key string of the
// rendezvous hash was built per node: the selector before this test made
// six allocations here (three servers, one String).
func TestPickServerAllocatesNothing(t *testing.T) {
	sel, err := NewPymemcacheSelector("127.0.0.1:11211", "[::1]:11212", "/tmp/memcached.sock")
	if err != nil {
		t.Fatal(err)
	}
	key := ":1:django.contrib.sessions.cache" + strings.Repeat("k", 32)
	var sink int
	n := testing.AllocsPerRun(100, func() {
		a, err := sel.PickServer(key)
		if err != nil {
			t.Fatal(err)
		}
		sink += len(a.String()) + len(a.Network())
	})
	if n != 0 {
		t.Errorf("PickServer and Addr.String: %v allocations, want 0", n)
	}
	for i, want := range []string{"127.0.0.1:11211", "[::1]:11212", "/tmp/memcached.sock"} {
		if got := sel.addrs[i].String(); got != want {
			t.Errorf("address %d: %q, want %q", i, got, want)
		}
	}
	if got := sel.addrs[2].Network(); got != "unix" {
		t.Errorf("socket's network: %q, want unix", got)
	}
}
