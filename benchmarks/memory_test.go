package benchmarks

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/sessionkit/sessions"
	ourmem "github.com/sessionkit/sessions/backends/memstore"
)

func newMemoryManager(tb testing.TB) *sessions.Manager {
	m, err := sessions.New(ourmem.New(nil), settings())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func newSCSMemory() *scs.SessionManager {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(time.Hour)
	return sm
}

func BenchmarkMemory(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		oursPair(b, newMemoryManager(b), sessionData())
	})
	b.Run("scs", func(b *testing.B) {
		scsPair(b, newSCSMemory())
	})
}

// BenchmarkMemoryEngine drives the memory engine alone, without the
// Manager or HTTP, from parallelism goroutines per core over
// parallelSessions sessions: parallelWritePct% of the operations are a
// Load then a Swap (a read-write request's engine calls), the rest a
// Load. It isolates the engine's locking, which the whole request
// dilutes: CPU time per operation and the time goroutines spent blocked
// on a sync.Mutex or RWMutex per operation (runtime/metrics) are
// reported.
func BenchmarkMemoryEngine(b *testing.B) {
	ctx := context.Background()
	s := ourmem.New(nil)
	defer s.Close()
	data := encoded(b)
	keys := make([]string, parallelSessions)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = sessions.NewKey()
		if err := s.Create(ctx, keys[i], data, exp); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(parallelism)
	cpu0, wait0 := cpuTime(), mutexWait()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		for pb.Next() {
			k := keys[rng.IntN(len(keys))]
			old, err := s.Load(ctx, k)
			if err != nil {
				b.Error(err)
				return
			}
			if rng.IntN(100) < parallelWritePct {
				// A conflict (another goroutine swapped first) is a
				// normal outcome under load; anything else is not.
				if err := s.Swap(ctx, k, old, old, exp); err != nil && !errors.Is(err, sessions.ErrConflict) {
					b.Error(err)
					return
				}
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64((mutexWait()-wait0).Nanoseconds())/float64(b.N), "lockwait-ns/op")
}

// mutexWait is the total time this process's goroutines have spent
// blocked on a sync.Mutex or sync.RWMutex.
func mutexWait() time.Duration {
	s := []metrics.Sample{{Name: "/sync/mutex/wait/total:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}
