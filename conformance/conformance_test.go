package conformance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
)

// The suite must be able to fail: each mutant breaks one rule of the
// contract and Check must name it.

type resurrecting struct{ *memstore.Store }

func (r resurrecting) Update(ctx context.Context, key string, data []byte, exp time.Time) error {
	r.Store.Delete(ctx, key)
	return r.Store.Create(ctx, key, data, exp)
}

type overwritingCreate struct{ *memstore.Store }

func (o overwritingCreate) Create(ctx context.Context, key string, data []byte, exp time.Time) error {
	o.Store.Delete(ctx, key)
	return o.Store.Create(ctx, key, data, exp)
}

type blindSwap struct{ *memstore.Store }

func (b blindSwap) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	return b.Store.Update(ctx, key, data, exp)
}

func TestCheckCatchesMutants(t *testing.T) {
	ctx := context.Background()
	if err := conformance.Check(ctx, memstore.New(nil)); err != nil {
		t.Fatalf("Check fails on the reference engine: %v", err)
	}
	mutants := map[string]sessions.Engine{
		"UpdateAfterDeleteNoResurrection": resurrecting{memstore.New(nil)},
		"CreateExisting":                  overwritingCreate{memstore.New(nil)},
		"Swap":                            blindSwap{memstore.New(nil)},
	}
	for want, e := range mutants {
		err := conformance.Check(ctx, e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mutant breaking %s: Check = %v", want, err)
		}
	}
}

func TestCheckSize(t *testing.T) {
	if rs := conformance.CheckResults(context.Background(), memstore.New(nil)); len(rs) < 8 {
		t.Errorf("quick check too small: %d cases", len(rs))
	}
}

func TestCheckResultsClientSide(t *testing.T) {
	rs := conformance.CheckResults(context.Background(), cookiestore.New(nil))
	if len(rs) < 2 {
		t.Fatalf("%d results", len(rs))
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
		}
	}
	skipped := 0
	for _, r := range conformance.CheckResults(context.Background(), memstore.New(nil)) {
		if r.Skipped {
			skipped++
		}
	}
	if skipped != 0 {
		t.Errorf("memstore skipped %d quick cases", skipped)
	}
}

// The middleware cases pass through Manager.Handler and
// Manager.BufferedHandler over each transport, for a server-side and a
// signed-cookie engine.
func TestRunMiddleware(t *testing.T) {
	harnesses := map[string]conformance.Harness{
		"memstore": {New: func(t *testing.T) sessions.Backend {
			e := memstore.New(nil)
			t.Cleanup(func() { e.Close() })
			return e
		}},
		"cookiestore": {New: func(t *testing.T) sessions.Backend { return cookiestore.New(nil) }, Caps: conformance.Capabilities{ClientSide: true}},
	}
	for name, h := range harnesses {
		t.Run(name+"/Handler", func(t *testing.T) { conformance.RunMiddleware(t, h, conformance.Framework{}) })
		t.Run(name+"/BufferedHandler", func(t *testing.T) { conformance.RunMiddleware(t, h, conformance.Framework{Buffered: true}) })
	}
}
