//go:build soak

package soak

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestSoak is the long soak of `make soak`: every target for
// SOAK_DURATION seconds (default 40) with SOAK_OUTAGES outages (default:
// each of its faults once), lasting 1, 2 and 3 s in turn.
func TestSoak(t *testing.T) {
	duration := time.Duration(envInt("SOAK_DURATION", 40)) * time.Second
	opt := options{
		duration:      duration,
		outages:       envInt("SOAK_OUTAGES", envInt("SOAK_RESTARTS", 0)),
		outage:        func(i int) time.Duration { return time.Second + time.Duration(i%3)*time.Second },
		clients:       envInt("SOAK_CLIENTS", 12),
		maxRecovery:   envDuration("SOAK_MAX_RECOVERY", 5*time.Second),
		reqTimeout:    2 * time.Second,
		clientTimeout: 10 * time.Second,
	}
	opt.shared = max(1, opt.clients/3)
	var reports []report
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			rep := soak(t, tg, opt)
			reports = append(reports, rep)
			verdict(t, rep, opt)
		})
	}
	tbl := table(reports)
	fmt.Print("\n" + tbl)
	writeReport(t, fmt.Sprintf("Soak (make soak): %s per engine, %d clients and %d on a shared session", duration, opt.clients, opt.shared), reports)
}

// envInt reads a positive integer from the environment, or gives def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
