package memcachestore

import (
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// PymemcacheSelector is a memcache.ServerSelector that puts every key on
// the server pymemcache's HashClient (Django's PyMemcacheCache) puts it
// on: rendezvous hashing, the server whose name scores highest for
// MurmurHash3("<host>:<port>-<key>") wins. A Go service and a Django site
// that share sessions over several memcached servers need it, and must
// name the servers identically (the same host names and ports as
// Django's LOCATION; the names are hashed, not the addresses).
//
// Unlike HashClient it does not take a failing server out of the
// rotation for a while, so during an outage the two sides may disagree.
type PymemcacheSelector struct {
	nodes []string
	addrs []net.Addr
}

var _ memcache.ServerSelector = (*PymemcacheSelector)(nil)

// NewPymemcacheSelector returns a selector over servers given as Django's
// LOCATION lists them: "host:port", "host" (port 11211), "[::1]:11211" or
// a unix socket path. Names are resolved once, now.
func NewPymemcacheSelector(servers ...string) (*PymemcacheSelector, error) {
	s := &PymemcacheSelector{}
	for _, srv := range servers {
		node, addr, err := pymemcacheNode(srv)
		if err != nil {
			return nil, err
		}
		s.nodes = append(s.nodes, node)
		s.addrs = append(s.addrs, addr)
	}
	return s, nil
}

// pymemcacheNode returns the name pymemcache hashes for a server
// (normalize_server_spec, then "%s:%s" % (host, port)) and its address.
func pymemcacheNode(srv string) (string, net.Addr, error) {
	srv = strings.TrimPrefix(srv, "unix:")
	if strings.HasPrefix(srv, "/") {
		a, err := net.ResolveUnixAddr("unix", srv)
		if err != nil {
			return "", nil, err
		}
		return srv, fixed(a), nil
	}
	host, port := srv, 11211
	if strings.Contains(srv, ":") && !strings.HasSuffix(srv, "]") {
		i := strings.LastIndex(srv, ":")
		p, err := strconv.Atoi(srv[i+1:])
		if err != nil {
			return "", nil, fmt.Errorf("memcached server %q: bad port", srv)
		}
		host, port = srv[:i], p
	}
	host = strings.Trim(host, "[]")
	a, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return "", nil, err
	}
	return host + ":" + strconv.Itoa(port), fixed(a), nil
}

// fixedAddr is a resolved server address whose string form is computed
// once. gomemcache keys its idle connections by Addr.String() when it
// takes one and when it puts it back, on every call, and a *net.TCPAddr
// formats itself anew each time (two allocations); gomemcache's own
// ServerList hands out addresses like this one for the same reason.
type fixedAddr struct{ network, str string }

func fixed(a net.Addr) *fixedAddr { return &fixedAddr{a.Network(), a.String()} }

// Network implements net.Addr.
func (a *fixedAddr) Network() string { return a.network }

// String implements net.Addr.
func (a *fixedAddr) String() string { return a.str }

// PickServer implements memcache.ServerSelector.
func (s *PymemcacheSelector) PickServer(key string) (net.Addr, error) {
	if len(s.nodes) == 0 {
		return nil, memcache.ErrNoServers
	}
	best, bestScore := -1, int64(-1)
	var buf [256]byte // node + "-" + key: no allocation unless the two exceed 255 bytes (a session's key is about 70)
	for i, n := range s.nodes {
		score := int64(murmur3(append(append(append(buf[:0], n...), '-'), key...)))
		if score > bestScore || score == bestScore && n > s.nodes[best] {
			best, bestScore = i, score
		}
	}
	return s.addrs[best], nil
}

// Each implements memcache.ServerSelector.
func (s *PymemcacheSelector) Each(f func(net.Addr) error) error {
	for _, a := range s.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// murmur3 is MurmurHash3 x86 32-bit with seed 0, as pymemcache's
// murmur3_32 computes it over the characters of an ASCII string. It is
// written out here on purpose: the placement of a session must be exactly
// pymemcache's, so that Go and Django look on the same server, which
// takes this hash bit for bit; the standard library has no MurmurHash3,
// and a seeded hash such as hash/maphash would differ between processes.
func murmur3[T string | []byte](s T) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(s)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch n & 3 {
	case 3:
		k ^= uint32(s[i+2]) << 16
		fallthrough
	case 2:
		k ^= uint32(s[i+1]) << 8
		fallthrough
	case 1:
		k ^= uint32(s[i])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
