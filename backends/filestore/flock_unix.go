//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// crossProcessLocks reports whether tryLock locks between processes.
const crossProcessLocks = true

// tryLock takes an exclusive flock(2) on f without waiting. It reports
// false when another open file holds the lock. A file system without
// flock support is treated as unlocked (locks then hold only within the
// process).
func tryLock(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
	}); err != nil {
		return false, err
	}
	switch {
	case ferr == nil:
		return true, nil
	case errors.Is(ferr, syscall.EWOULDBLOCK), errors.Is(ferr, syscall.EINTR):
		return false, nil
	case errors.Is(ferr, syscall.ENOLCK), errors.Is(ferr, errors.ErrUnsupported):
		return true, nil
	}
	return false, ferr
}
