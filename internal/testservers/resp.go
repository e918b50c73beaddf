package testservers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// respError is an error reply (-ERR ...) from Redis.
type respError string

func (e respError) Error() string { return string(e) }

// redisDo sends one command to addr over a fresh TCP connection and returns
// the reply flattened to a string: simple strings, bulk strings and integers
// as their text, arrays as their elements joined by "\n", nil as "". An
// error reply is returned as a respError.
func redisDo(a string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, s := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	return readRESP(bufio.NewReader(c))
}

// redisDoAll sends cmds to addr one after another over one fresh TCP
// connection (WAIT counts the replicas that have the connection's own
// writes) and returns their replies as redisDo does, up to the first
// error.
func redisDoAll(a string, cmds ...[]string) ([]string, error) {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var out []string
	for _, args := range cmds {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, s := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s)
		}
		if _, err := io.WriteString(c, b.String()); err != nil {
			return out, err
		}
		v, err := readRESP(r)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func readRESP(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("resp: empty line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", respError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("resp: bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("resp: bad array length %q", line)
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			s, err := readRESP(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "\n"), nil
	default:
		return "", fmt.Errorf("resp: unexpected reply %q", line)
	}
}

// redisReady is a readiness check: the server at a answers INFO with the
// given process_id, so it is the process we started and not another server
// that took the port in the meantime.
func redisReady(a string, pid int) error {
	s, err := redisDo(a, "INFO", "server")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v != strconv.Itoa(pid) {
				return fmt.Errorf("%s is served by process %s, not %d", a, v, pid)
			}
			return nil
		}
	}
	return fmt.Errorf("INFO server from %s has no process_id", a)
}

// memcachedReady is a readiness check: the server at a answers "stats" with
// the given pid, so it is the process we started.
func memcachedReady(a string, pid int) error {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	got := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "END" {
			break
		}
		if v, ok := strings.CutPrefix(line, "STAT pid "); ok {
			got = v
		}
	}
	if got != strconv.Itoa(pid) {
		return fmt.Errorf("%s is served by process %q, not %d", a, got, pid)
	}
	return nil
}
