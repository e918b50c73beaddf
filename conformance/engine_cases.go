package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/internal/textutil"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
)

func engineCases() []engineCase {
	return []engineCase{
		{name: "LoadUnknown", quick: true,
			reason: "Load of a key that was never stored returns ErrNotFound",
			run: func(ev *env) error {
				_, err := ev.e.Load(ev.ctx, sessions.NewKey())
				return expectErr("Load", err, sessions.ErrNotFound)
			}},
		{name: "CreateLoad", quick: true,
			reason: "Create stores the bytes exactly and Load returns them",
			run: func(ev *env) error {
				k := sessions.NewKey()
				data := []byte("eyJhIjoiYiJ9:1r31eq:signature")
				if err := ev.e.Create(ev.ctx, k, data, future(ev)); err != nil {
					return expectNil("Create", err)
				}
				defer ev.e.Delete(ev.ctx, k)
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				return expectData("Load", got, data)
			}},
		{name: "BinaryData",
			reason: "data are opaque bytes: NUL bytes, high bytes and the empty value round-trip",
			run: func(ev *env) error {
				for _, data := range [][]byte{{0, 1, 2, 0, 255, '\r', '\n'}, []byte("\xff\xfe{\"x\":\x00}"), {}} {
					k := sessions.NewKey()
					if err := ev.e.Create(ev.ctx, k, data, future(ev)); err != nil {
						return expectNil("Create", err)
					}
					got, err := ev.e.Load(ev.ctx, k)
					if err != nil {
						return expectNil("Load", err)
					}
					if err := expectData("Load", got, data); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "LargeValue",
			reason: "a large session (up to 1 MiB or the declared maximum) round-trips",
			run: func(ev *env) error {
				k := sessions.NewKey()
				data := bytes.Repeat([]byte("0123456789abcdef"), ev.caps.maxValue()/16)
				if err := ev.e.Create(ev.ctx, k, data, future(ev)); err != nil {
					return expectNil("Create", err)
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				return expectData("Load", got, data)
			}},
		{name: "LoadReturnsCopy",
			reason: "changing the slice Load returned does not change what is stored",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("original"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				got, _ := ev.e.Load(ev.ctx, k)
				for i := range got {
					got[i] = 'x'
				}
				again, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				return expectData("Load", again, []byte("original"))
			}},
		{name: "CreateExisting", quick: true,
			reason: "Create on a live key returns ErrExists and leaves the record unchanged (Django's must_create)",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("first"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				defer ev.e.Delete(ev.ctx, k)
				if err := expectErr("second Create", ev.e.Create(ev.ctx, k, []byte("second"), future(ev)), sessions.ErrExists); err != nil {
					return err
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				return expectData("Load after failed Create", got, []byte("first"))
			}},
		{name: "UpdateReplaces", quick: true,
			reason: "Update replaces the data and the expiry of a live record",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				defer ev.e.Delete(ev.ctx, k)
				if err := ev.e.Update(ev.ctx, k, []byte("v2"), future(ev)); err != nil {
					return expectNil("Update", err)
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				return expectData("Load after Update", got, []byte("v2"))
			}},
		{name: "UpdateMissing", quick: true,
			reason: "Update of a key that does not exist returns ErrNotFound and stores nothing",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := expectErr("Update", ev.e.Update(ev.ctx, k, []byte("x"), future(ev)), sessions.ErrNotFound); err != nil {
					return err
				}
				_, err := ev.e.Load(ev.ctx, k)
				return expectErr("Load after failed Update", err, sessions.ErrNotFound)
			}},
		{name: "UpdateAfterDeleteNoResurrection", quick: true,
			reason: "a slow request's Update after another request's Delete returns ErrNotFound: a logged-out session is never brought back",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				if err := ev.e.Delete(ev.ctx, k); err != nil {
					return expectNil("Delete", err)
				}
				if err := expectErr("Update after Delete", ev.e.Update(ev.ctx, k, []byte("v2"), future(ev)), sessions.ErrNotFound); err != nil {
					return err
				}
				_, err := ev.e.Load(ev.ctx, k)
				return expectErr("Load", err, sessions.ErrNotFound)
			}},
		{name: "Delete", quick: true,
			reason: "Delete removes the record; deleting an absent key is not an error",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("x"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				if err := ev.e.Delete(ev.ctx, k); err != nil {
					return expectNil("Delete", err)
				}
				if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrNotFound) {
					return expectErr("Load after Delete", err, sessions.ErrNotFound)
				}
				if err := ev.e.Delete(ev.ctx, k); err != nil {
					return expectNil("Delete again", err)
				}
				return expectNil("Delete of a never-stored key", ev.e.Delete(ev.ctx, sessions.NewKey()))
			}},
		{name: "PastExpiry",
			reason: "a record created with an expiry in the past is never returned",
			run: func(ev *env) error {
				k := sessions.NewKey()
				err := ev.e.Create(ev.ctx, k, []byte("x"), time.Now().Add(-time.Hour))
				if err != nil {
					return expectNil("Create with a past expiry", err)
				}
				_, err = ev.e.Load(ev.ctx, k)
				return expectErr("Load", err, sessions.ErrNotFound)
			}},
		{name: "Expiry",
			reason: "after its expiry has passed a record is not returned, even if not purged yet",
			run: func(ev *env) error {
				if ev.caps.SlowExpiry {
					return skip("the engine declares SlowExpiry")
				}
				k := sessions.NewKey()
				res := ev.caps.res()
				exp := time.Now().Add(2 * res)
				if err := ev.e.Create(ev.ctx, k, []byte("x"), exp); err != nil {
					return expectNil("Create", err)
				}
				if _, err := ev.e.Load(ev.ctx, k); err != nil {
					return fmt.Errorf("Load before expiry: %w", err)
				}
				sleepUntil(exp.Add(res + 10*time.Millisecond))
				_, err := ev.e.Load(ev.ctx, k)
				return expectErr("Load after expiry", err, sessions.ErrNotFound)
			}},
		{name: "ExpiredDoesNotBlockCreate",
			reason: "Create succeeds on a key whose record has expired (it is dead, not existing)",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("old"), time.Now().Add(-time.Hour)); err != nil {
					return expectNil("Create expired", err)
				}
				if err := ev.e.Create(ev.ctx, k, []byte("new"), future(ev)); err != nil {
					return expectNil("Create over an expired record", err)
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				return expectData("Load", got, []byte("new"))
			}},
		{name: "UpdateExpired",
			reason: "Update of an expired record returns ErrNotFound (it would resurrect a dead session)",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("old"), time.Now().Add(-time.Hour)); err != nil {
					return expectNil("Create expired", err)
				}
				if err := expectErr("Update", ev.e.Update(ev.ctx, k, []byte("new"), future(ev)), sessions.ErrNotFound); err != nil {
					return err
				}
				_, err := ev.e.Load(ev.ctx, k)
				return expectErr("Load", err, sessions.ErrNotFound)
			}},
		{name: "KeyIsolation", quick: true,
			reason: "keys that share prefixes or differ in one character or in length are distinct records",
			run: func(ev *env) error {
				base := sessions.NewKey()
				keys := []string{base, base[:31] + flip(base[31]), base[:8], base[:9], base[:20], base + "abcdefgh", flip(base[0]) + base[1:]}
				for i, k := range keys {
					if err := ev.e.Create(ev.ctx, k, []byte(fmt.Sprint("value-", i)), future(ev)); err != nil {
						return expectNil("Create "+k, err)
					}
				}
				for i, k := range keys {
					got, err := ev.e.Load(ev.ctx, k)
					if err != nil {
						return expectNil("Load "+k, err)
					}
					if err := expectData("Load "+k, got, []byte(fmt.Sprint("value-", i))); err != nil {
						return err
					}
				}
				for _, k := range keys {
					ev.e.Delete(ev.ctx, k)
				}
				return nil
			}},
		{name: "KeyLengths",
			reason: "keys of 8 to 40 characters from [a-z0-9] are accepted (Django's range and column width)",
			run: func(ev *env) error {
				for _, n := range []int{8, 32, 40} {
					k := (sessions.NewKey() + sessions.NewKey())[:n]
					if err := ev.e.Create(ev.ctx, k, []byte("x"), future(ev)); err != nil {
						return expectNil(fmt.Sprintf("Create with a %d-character key", n), err)
					}
					if _, err := ev.e.Load(ev.ctx, k); err != nil {
						return expectNil("Load", err)
					}
				}
				return nil
			}},
		{name: "HostileKeys", quick: true,
			reason: "every method refuses keys outside [a-z0-9]{8,40} with ErrInvalidKey before touching storage (path traversal, injection, protocol smuggling)",
			run: func(ev *env) error {
				for _, k := range hostileKeys {
					if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("Load(%q): got %v, want ErrInvalidKey", k, err)
					}
					if err := ev.e.Create(ev.ctx, k, []byte("x"), future(ev)); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("Create(%q): got %v, want ErrInvalidKey", k, err)
					}
					if err := ev.e.Update(ev.ctx, k, []byte("x"), future(ev)); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("Update(%q): got %v, want ErrInvalidKey", k, err)
					}
					if err := ev.e.Delete(ev.ctx, k); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("Delete(%q): got %v, want ErrInvalidKey", k, err)
					}
					if t, ok := ev.e.(sessions.Toucher); ok {
						if err := t.Touch(ev.ctx, k, future(ev)); !errors.Is(err, sessions.ErrInvalidKey) {
							return fmt.Errorf("Touch(%q): got %v, want ErrInvalidKey", k, err)
						}
					}
					if s, ok := ev.e.(sessions.Swapper); ok {
						if err := s.Swap(ev.ctx, k, []byte("x"), []byte("y"), future(ev)); !errors.Is(err, sessions.ErrInvalidKey) {
							return fmt.Errorf("Swap(%q): got %v, want ErrInvalidKey", k, err)
						}
					}
				}
				return nil
			}},
		{name: "ConcurrentDistinctKeys",
			reason: "the engine is safe for concurrent use: goroutines on distinct keys never see each other's data",
			run: func(ev *env) error {
				const workers, rounds = 16, 10
				errc := make(chan error, workers)
				var wg sync.WaitGroup
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						k := sessions.NewKey()
						for r := range rounds {
							v := []byte(fmt.Sprintf("w%d-r%d", w, r))
							var err error
							if r == 0 {
								err = ev.e.Create(ev.ctx, k, v, future(ev))
							} else {
								err = ev.e.Update(ev.ctx, k, v, future(ev))
							}
							if err != nil {
								errc <- fmt.Errorf("write: %w", err)
								return
							}
							got, err := ev.e.Load(ev.ctx, k)
							if err != nil || !bytes.Equal(got, v) {
								errc <- fmt.Errorf("Load after write: %s, %v; want %s", short(got), err, short(v))
								return
							}
						}
						errc <- ev.e.Delete(ev.ctx, k)
					}()
				}
				wg.Wait()
				close(errc)
				for err := range errc {
					if err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "ConcurrentSameKey",
			reason: "concurrent Updates of one key never fail or tear: the record ends as one of the values written",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("start"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				const workers = 12
				vals := make([][]byte, workers)
				var wg sync.WaitGroup
				errc := make(chan error, workers*2)
				for w := range workers {
					vals[w] = bytes.Repeat([]byte{byte('a' + w)}, 1000+w)
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 5 {
							if err := ev.e.Update(ev.ctx, k, vals[w], future(ev)); err != nil {
								errc <- err
								return
							}
							got, err := ev.e.Load(ev.ctx, k)
							if err != nil {
								errc <- err
								return
							}
							if !slices.ContainsFunc(vals, func(v []byte) bool { return bytes.Equal(v, got) }) {
								errc <- fmt.Errorf("torn or foreign value %s", short(got))
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errc)
				for err := range errc {
					return err
				}
				return nil
			}},
		{name: "CancelledContext",
			reason: "a cancelled context is honoured: every method returns an error matching context.Canceled",
			run: func(ev *env) error {
				if ev.caps.NoCancel {
					return skip("the engine declares NoCancel")
				}
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("x"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				ctx, cancel := context.WithCancel(ev.ctx)
				cancel()
				if _, err := ev.e.Load(ctx, k); !errors.Is(err, context.Canceled) {
					return fmt.Errorf("Load: got %v, want context.Canceled", err)
				}
				if err := ev.e.Create(ctx, sessions.NewKey(), []byte("x"), future(ev)); !errors.Is(err, context.Canceled) {
					return fmt.Errorf("Create: got %v, want context.Canceled", err)
				}
				if err := ev.e.Update(ctx, k, []byte("y"), future(ev)); !errors.Is(err, context.Canceled) {
					return fmt.Errorf("Update: got %v, want context.Canceled", err)
				}
				if err := ev.e.Delete(ctx, k); !errors.Is(err, context.Canceled) {
					return fmt.Errorf("Delete: got %v, want context.Canceled", err)
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load with a live context", err)
				}
				return expectData("Load (cancelled calls must not have written)", got, []byte("x"))
			}},
		{name: "UseAfterClose",
			reason: "after Close every method returns ErrClosed, and a second Close does not panic",
			run: func(ev *env) error {
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("x"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				if err := ev.e.Close(); err != nil {
					return expectNil("Close", err)
				}
				if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrClosed) {
					return fmt.Errorf("Load after Close: got %v, want ErrClosed", err)
				}
				if err := ev.e.Create(ev.ctx, sessions.NewKey(), []byte("x"), future(ev)); !errors.Is(err, sessions.ErrClosed) {
					return fmt.Errorf("Create after Close: got %v, want ErrClosed", err)
				}
				if err := ev.e.Update(ev.ctx, k, []byte("x"), future(ev)); !errors.Is(err, sessions.ErrClosed) {
					return fmt.Errorf("Update after Close: got %v, want ErrClosed", err)
				}
				if err := ev.e.Delete(ev.ctx, k); !errors.Is(err, sessions.ErrClosed) {
					return fmt.Errorf("Delete after Close: got %v, want ErrClosed", err)
				}
				if err := ev.e.Close(); err != nil && !errors.Is(err, sessions.ErrClosed) {
					return fmt.Errorf("second Close: %v", err)
				}
				return nil
			}},
		{name: "SharedAcrossInstances",
			reason: "two engine instances over one store see each other's writes and deletes",
			run: func(ev *env) error {
				if ev.pair == nil {
					return skip("the harness has no NewPair")
				}
				a, b := ev.pair()
				k := sessions.NewKey()
				if err := a.Create(ev.ctx, k, []byte("from a"), future(ev)); err != nil {
					return expectNil("Create through A", err)
				}
				got, err := b.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load through B", err)
				}
				if err := expectData("Load through B", got, []byte("from a")); err != nil {
					return err
				}
				if err := expectErr("Create through B", b.Create(ev.ctx, k, []byte("b"), future(ev)), sessions.ErrExists); err != nil {
					return err
				}
				if err := b.Update(ev.ctx, k, []byte("from b"), future(ev)); err != nil {
					return expectNil("Update through B", err)
				}
				got, _ = a.Load(ev.ctx, k)
				if err := expectData("Load through A", got, []byte("from b")); err != nil {
					return err
				}
				if err := a.Delete(ev.ctx, k); err != nil {
					return expectNil("Delete through A", err)
				}
				return expectErr("Update through B after Delete through A", b.Update(ev.ctx, k, []byte("x"), future(ev)), sessions.ErrNotFound)
			}},
		{name: "Touch", quick: true,
			reason: "Toucher: Touch moves the expiry of a live record without changing its data; a missing key gives ErrNotFound",
			run: func(ev *env) error {
				t, ok := ev.e.(sessions.Toucher)
				if !ok {
					return skip("the engine does not implement Toucher")
				}
				k := sessions.NewKey()
				if err := expectErr("Touch missing", t.Touch(ev.ctx, k, future(ev)), sessions.ErrNotFound); err != nil {
					return err
				}
				if err := ev.e.Create(ev.ctx, k, []byte("data"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				defer ev.e.Delete(ev.ctx, k)
				if err := t.Touch(ev.ctx, k, time.Now().Add(2*time.Hour)); err != nil {
					return expectNil("Touch", err)
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load after Touch", err)
				}
				if err := expectData("Load after Touch", got, []byte("data")); err != nil {
					return err
				}
				// Touching into the past expires the record.
				if err := t.Touch(ev.ctx, k, time.Now().Add(-time.Hour)); err != nil {
					return expectNil("Touch into the past", err)
				}
				_, err = ev.e.Load(ev.ctx, k)
				return expectErr("Load after Touch into the past", err, sessions.ErrNotFound)
			}},
		{name: "TouchExtends",
			reason: "Toucher: a touched record outlives its original expiry",
			run: func(ev *env) error {
				t, ok := ev.e.(sessions.Toucher)
				if !ok {
					return skip("the engine does not implement Toucher")
				}
				if ev.caps.SlowExpiry {
					return skip("the engine declares SlowExpiry")
				}
				res := ev.caps.res()
				k := sessions.NewKey()
				exp := time.Now().Add(2 * res)
				if err := ev.e.Create(ev.ctx, k, []byte("data"), exp); err != nil {
					return expectNil("Create", err)
				}
				if err := t.Touch(ev.ctx, k, time.Now().Add(time.Hour)); err != nil {
					return expectNil("Touch", err)
				}
				sleepUntil(exp.Add(res + 10*time.Millisecond))
				_, err := ev.e.Load(ev.ctx, k)
				return expectNil("Load after the original expiry", err)
			}},
		{name: "Swap", quick: true,
			reason: "Swapper: Swap replaces only when the stored bytes equal old; otherwise ErrConflict and nothing changes; a missing key gives ErrNotFound",
			run: func(ev *env) error {
				s, ok := ev.e.(sessions.Swapper)
				if !ok {
					return skip("the engine does not implement Swapper")
				}
				k := sessions.NewKey()
				if err := expectErr("Swap missing", s.Swap(ev.ctx, k, []byte("a"), []byte("b"), future(ev)), sessions.ErrNotFound); err != nil {
					return err
				}
				if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrNotFound) {
					return fmt.Errorf("Swap of a missing key stored something")
				}
				if err := ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				defer ev.e.Delete(ev.ctx, k)
				if err := s.Swap(ev.ctx, k, []byte("v1"), []byte("v2"), future(ev)); err != nil {
					return expectNil("Swap with the right old value", err)
				}
				if err := expectErr("Swap with a stale old value", s.Swap(ev.ctx, k, []byte("v1"), []byte("v3"), future(ev)), sessions.ErrConflict); err != nil {
					return err
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					return expectNil("Load", err)
				}
				if err := expectData("Load after swaps", got, []byte("v2")); err != nil {
					return err
				}
				// Identical bytes are allowed (only the expiry moves).
				return expectNil("Swap to the same bytes", s.Swap(ev.ctx, k, []byte("v2"), []byte("v2"), future(ev)))
			}},
		{name: "SwapExpired",
			reason: "Swapper: an expired record is missing to Swap (ErrNotFound), never resurrected",
			run: func(ev *env) error {
				s, ok := ev.e.(sessions.Swapper)
				if !ok {
					return skip("the engine does not implement Swapper")
				}
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("old"), time.Now().Add(-time.Hour)); err != nil {
					return expectNil("Create expired", err)
				}
				if err := expectErr("Swap", s.Swap(ev.ctx, k, []byte("old"), []byte("new"), future(ev)), sessions.ErrNotFound); err != nil {
					return err
				}
				_, err := ev.e.Load(ev.ctx, k)
				return expectErr("Load", err, sessions.ErrNotFound)
			}},
		{name: "SwapContention",
			reason: "Swapper: of many concurrent swaps from the same old value exactly one wins",
			run: func(ev *env) error {
				s, ok := ev.e.(sessions.Swapper)
				if !ok {
					return skip("the engine does not implement Swapper")
				}
				k := sessions.NewKey()
				if err := ev.e.Create(ev.ctx, k, []byte("base"), future(ev)); err != nil {
					return expectNil("Create", err)
				}
				defer ev.e.Delete(ev.ctx, k)
				const n = 10
				var wg sync.WaitGroup
				var mu sync.Mutex
				wins, conflicts := 0, 0
				var other error
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						err := s.Swap(ev.ctx, k, []byte("base"), []byte(fmt.Sprint("winner-", i)), future(ev))
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							wins++
						case errors.Is(err, sessions.ErrConflict):
							conflicts++
						default:
							other = err
						}
					}()
				}
				wg.Wait()
				if other != nil {
					return fmt.Errorf("Swap: %w", other)
				}
				if wins != 1 || conflicts != n-1 {
					return fmt.Errorf("%d swaps won and %d conflicted, want 1 and %d", wins, conflicts, n-1)
				}
				return nil
			}},
		{name: "DeleteExpired",
			reason: "ExpiredDeleter: removes the expired records, only those, and counts them",
			run: func(ev *env) error {
				d, ok := ev.e.(sessions.ExpiredDeleter)
				if !ok {
					return skip("the engine does not implement ExpiredDeleter")
				}
				var live, dead []string
				for range 5 {
					k := sessions.NewKey()
					if err := ev.e.Create(ev.ctx, k, []byte("live"), future(ev)); err != nil {
						return expectNil("Create live", err)
					}
					live = append(live, k)
				}
				for range 7 {
					k := sessions.NewKey()
					if err := ev.e.Create(ev.ctx, k, []byte("dead"), time.Now().Add(-time.Minute)); err != nil {
						return expectNil("Create expired", err)
					}
					dead = append(dead, k)
				}
				n, err := d.DeleteExpired(ev.ctx)
				if err != nil {
					return expectNil("DeleteExpired", err)
				}
				if ev.caps.NativeExpiry {
					for _, k := range dead {
						if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrNotFound) {
							return fmt.Errorf("an expired record is readable: %v", err)
						}
					}
					for _, k := range live {
						if _, err := ev.e.Load(ev.ctx, k); err != nil {
							return fmt.Errorf("live record gone after DeleteExpired: %v", err)
						}
					}
					return nil
				}
				if n < int64(len(dead)) {
					return fmt.Errorf("DeleteExpired reported %d, want at least %d", n, len(dead))
				}
				for _, k := range live {
					if _, err := ev.e.Load(ev.ctx, k); err != nil {
						return fmt.Errorf("live record gone after DeleteExpired: %v", err)
					}
				}
				n, err = d.DeleteExpired(ev.ctx)
				if err != nil || n != 0 {
					return fmt.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
				}
				return nil
			}},
		{name: "List",
			reason: "Lister: lists every live key, and no deleted or expired one; returning false stops the walk",
			run: func(ev *env) error {
				l, ok := ev.e.(sessions.Lister)
				if !ok {
					return skip("the engine does not implement Lister")
				}
				want := map[string]bool{}
				for range 6 {
					k := sessions.NewKey()
					if err := ev.e.Create(ev.ctx, k, []byte("x"), future(ev)); err != nil {
						return expectNil("Create", err)
					}
					want[k] = true
				}
				gone := sessions.NewKey()
				ev.e.Create(ev.ctx, gone, []byte("x"), future(ev))
				ev.e.Delete(ev.ctx, gone)
				expired := sessions.NewKey()
				ev.e.Create(ev.ctx, expired, []byte("x"), time.Now().Add(-time.Minute))
				seen := map[string]int{}
				if err := l.List(ev.ctx, func(k string) bool { seen[k]++; return true }); err != nil {
					return expectNil("List", err)
				}
				for k := range want {
					if seen[k] != 1 {
						return fmt.Errorf("List reported live key %s %d times, want once", textutil.RedactKey(k), seen[k])
					}
				}
				if seen[gone] > 0 || seen[expired] > 0 {
					return fmt.Errorf("List reported a deleted or expired key")
				}
				calls := 0
				if err := l.List(ev.ctx, func(string) bool { calls++; return false }); err != nil {
					return expectNil("List with early stop", err)
				}
				if calls != 1 {
					return fmt.Errorf("List called fn %d times after it returned false, want 1", calls)
				}
				return nil
			}},
		{name: "UserIndex", quick: true,
			reason: "UserIndexer: keys recorded per user are listed once each, users are isolated, RemoveUserSessions forgets them",
			run: func(ev *env) error {
				ix, ok := ev.e.(sessions.UserIndexer)
				if !ok {
					return skip("the engine does not implement UserIndexer")
				}
				alice := "alice-" + sessions.NewKey()[:8]
				bob := "bob@example.com/../" + sessions.NewKey()[:8]
				a1, a2, b1 := sessions.NewKey(), sessions.NewKey(), sessions.NewKey()
				for _, p := range []struct{ u, k string }{{alice, a1}, {alice, a2}, {alice, a1}, {bob, b1}} {
					if err := ix.AddUserSession(ev.ctx, p.u, p.k, future(ev)); err != nil {
						return expectNil("AddUserSession", err)
					}
				}
				got, err := ix.UserSessions(ev.ctx, alice)
				if err != nil {
					return expectNil("UserSessions", err)
				}
				slices.Sort(got)
				want := []string{a1, a2}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					return fmt.Errorf("UserSessions(alice) = %d keys, want her 2 (each once)", len(got))
				}
				if err := ix.RemoveUserSessions(ev.ctx, alice, got); err != nil {
					return expectNil("RemoveUserSessions", err)
				}
				if got, err := ix.UserSessions(ev.ctx, alice); err != nil || len(got) != 0 {
					return fmt.Errorf("after RemoveUserSessions of all her keys: %d keys, %v", len(got), err)
				}
				if got, err := ix.UserSessions(ev.ctx, bob); err != nil || len(got) != 1 || got[0] != b1 {
					return fmt.Errorf("bob's index was touched: %d keys, %v", len(got), err)
				}
				if got, err := ix.UserSessions(ev.ctx, "nobody-"+sessions.NewKey()); err != nil || len(got) != 0 {
					return fmt.Errorf("unknown user: %v, %v", got, err)
				}
				if err := ix.RemoveUserSessions(ev.ctx, "nobody-"+sessions.NewKey(), []string{b1}); err != nil {
					return expectNil("RemoveUserSessions of an unknown user", err)
				}
				if got, err := ix.UserSessions(ev.ctx, bob); err != nil || len(got) != 1 {
					return fmt.Errorf("bob's index was touched by another user's removal: %d keys, %v", len(got), err)
				}
				return ix.RemoveUserSessions(ev.ctx, bob, []string{b1})
			}},
		{name: "UserIndexExpiry",
			reason: "UserIndexer: an entry past its expiry is not listed; hostile user IDs and keys are refused or stored safely",
			run: func(ev *env) error {
				ix, ok := ev.e.(sessions.UserIndexer)
				if !ok {
					return skip("the engine does not implement UserIndexer")
				}
				u := "user-" + sessions.NewKey()[:8]
				live, dead := sessions.NewKey(), sessions.NewKey()
				if err := ix.AddUserSession(ev.ctx, u, live, future(ev)); err != nil {
					return expectNil("AddUserSession", err)
				}
				if err := ix.AddUserSession(ev.ctx, u, dead, time.Now().Add(-time.Minute)); err != nil {
					return expectNil("AddUserSession expired", err)
				}
				got, err := ix.UserSessions(ev.ctx, u)
				if err != nil || len(got) != 1 || got[0] != live {
					return fmt.Errorf("UserSessions = %d keys, %v; want only the live one", len(got), err)
				}
				for _, bad := range []string{"", strings.Repeat("x", sessions.MaxUserIDLength+1)} {
					if err := ix.AddUserSession(ev.ctx, bad, live, future(ev)); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("AddUserSession with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
					}
				}
				if err := ix.AddUserSession(ev.ctx, u, "../../etc/passwd", future(ev)); !errors.Is(err, sessions.ErrInvalidKey) {
					return fmt.Errorf("AddUserSession with a hostile session key: %v", err)
				}
				odd := "../" + strings.Repeat("é/\\x00 ", 20)
				if err := ix.AddUserSession(ev.ctx, odd, live, future(ev)); err != nil {
					return expectNil("AddUserSession with an odd but valid user ID", err)
				}
				if got, err := ix.UserSessions(ev.ctx, odd); err != nil || len(got) != 1 {
					return fmt.Errorf("odd user ID round trip: %v, %v", got, err)
				}
				if err := ix.RemoveUserSessions(ev.ctx, odd, []string{live}); err != nil {
					return expectNil("RemoveUserSessions with an odd but valid user ID", err)
				}
				if got, err := ix.UserSessions(ev.ctx, odd); err != nil || len(got) != 0 {
					return fmt.Errorf("odd user ID after RemoveUserSessions: %d keys, %v", len(got), err)
				}
				return ix.RemoveUserSessions(ev.ctx, u, []string{live, dead})
			}},
		{name: "UserIndexRemoveOnlyGiven",
			reason: "UserIndexer: RemoveUserSessions forgets exactly the given keys, atomically: an entry added meanwhile for the same user (even through another instance, even as the user's last entry goes) stays",
			run: func(ev *env) error {
				ix, ok := ev.e.(sessions.UserIndexer)
				if !ok {
					return skip("the engine does not implement UserIndexer")
				}
				// Adds go through a, removals through b: two instances over
				// one store when the harness has them.
				a, b := ix, ix
				if ev.pair != nil {
					ea, eb := ev.pair()
					a, _ = ea.(sessions.UserIndexer)
					b, _ = eb.(sessions.UserIndexer)
					if a == nil || b == nil {
						return fmt.Errorf("NewPair returned an engine without UserIndexer")
					}
				}
				alice := "alice-" + sessions.NewKey()[:8]
				k1, k2 := sessions.NewKey(), sessions.NewKey()
				for _, k := range []string{k1, k2} {
					if err := a.AddUserSession(ev.ctx, alice, k, future(ev)); err != nil {
						return expectNil("AddUserSession", err)
					}
				}
				if err := b.RemoveUserSessions(ev.ctx, alice, []string{k1}); err != nil {
					return expectNil("RemoveUserSessions", err)
				}
				if got, err := a.UserSessions(ev.ctx, alice); err != nil || len(got) != 1 || got[0] != k2 {
					return fmt.Errorf("after RemoveUserSessions(k1): %d keys, %v; want only k2", len(got), err)
				}
				for _, keys := range [][]string{nil, {}, {k1, sessions.NewKey()}} {
					if err := b.RemoveUserSessions(ev.ctx, alice, keys); err != nil {
						return expectNil(fmt.Sprintf("RemoveUserSessions of %d unrecorded keys", len(keys)), err)
					}
				}
				if err := b.RemoveUserSessions(ev.ctx, "nobody-"+sessions.NewKey(), []string{k2}); err != nil {
					return expectNil("RemoveUserSessions of an unknown user", err)
				}
				for _, k := range hostileKeys {
					if err := b.RemoveUserSessions(ev.ctx, alice, []string{k2, k}); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("RemoveUserSessions with key %q: got %v, want ErrInvalidKey", k, err)
					}
				}
				for _, bad := range []string{"", strings.Repeat("x", sessions.MaxUserIDLength+1)} {
					if err := b.RemoveUserSessions(ev.ctx, bad, []string{k2}); !errors.Is(err, sessions.ErrInvalidKey) {
						return fmt.Errorf("RemoveUserSessions with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
					}
				}
				if got, err := a.UserSessions(ev.ctx, alice); err != nil || len(got) != 1 || got[0] != k2 {
					return fmt.Errorf("a refused RemoveUserSessions touched the index: %d keys, %v; want k2", len(got), err)
				}

				// Logins (adds of new keys) race with removals of other keys.
				const adders, perAdder, olds = 4, 25, 8
				old := make([]string, olds)
				for i := range old {
					old[i] = sessions.NewKey()
				}
				var wg sync.WaitGroup
				errc := make(chan error, adders+1)
				added := make([][]string, adders)
				done := make(chan struct{})
				for w := range adders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range perAdder {
							k := sessions.NewKey()
							if err := a.AddUserSession(ev.ctx, alice, k, future(ev)); err != nil {
								errc <- fmt.Errorf("concurrent AddUserSession: %w", err)
								return
							}
							added[w] = append(added[w], k)
						}
					}()
				}
				go func() { wg.Wait(); close(done) }()
				var rwg sync.WaitGroup
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					for stop := false; !stop; {
						select {
						case <-done:
							stop = true // one last round after the adders
						default:
						}
						for _, k := range old {
							if err := b.AddUserSession(ev.ctx, alice, k, future(ev)); err != nil {
								errc <- fmt.Errorf("AddUserSession of an old key: %w", err)
								return
							}
						}
						if err := b.RemoveUserSessions(ev.ctx, alice, append([]string{k2}, old...)); err != nil {
							errc <- fmt.Errorf("concurrent RemoveUserSessions: %w", err)
							return
						}
					}
				}()
				rwg.Wait()
				wg.Wait()
				close(errc)
				for err := range errc {
					if err != nil {
						return err
					}
				}
				got, err := a.UserSessions(ev.ctx, alice)
				if err != nil {
					return expectNil("UserSessions", err)
				}
				want := slices.Concat(added...)
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					return fmt.Errorf("after concurrent adds and removals: %d keys listed, want the %d added and never removed", len(got), len(want))
				}
				if err := b.RemoveUserSessions(ev.ctx, alice, want); err != nil {
					return expectNil("RemoveUserSessions of many keys", err)
				}

				// The user's last entry goes while another is added.
				bob := "bob-" + sessions.NewKey()[:8]
				for range 40 {
					gone, kept := sessions.NewKey(), sessions.NewKey()
					if err := b.AddUserSession(ev.ctx, bob, gone, future(ev)); err != nil {
						return expectNil("AddUserSession", err)
					}
					start := make(chan struct{})
					var errA, errB error
					var pwg sync.WaitGroup
					pwg.Add(2)
					go func() { defer pwg.Done(); <-start; errA = a.AddUserSession(ev.ctx, bob, kept, future(ev)) }()
					go func() { defer pwg.Done(); <-start; errB = b.RemoveUserSessions(ev.ctx, bob, []string{gone}) }()
					close(start)
					pwg.Wait()
					if errA != nil || errB != nil {
						return fmt.Errorf("AddUserSession racing the removal of the last entry: %v; RemoveUserSessions: %v", errA, errB)
					}
					if got, err := a.UserSessions(ev.ctx, bob); err != nil || len(got) != 1 || got[0] != kept {
						return fmt.Errorf("a key added as the user's last entry was removed: %d keys listed, %v; want the added one", len(got), err)
					}
					if err := b.RemoveUserSessions(ev.ctx, bob, []string{kept}); err != nil {
						return expectNil("RemoveUserSessions", err)
					}
				}
				return nil
			}},
	}
}

func clientSideCases() []engineCase {
	return []engineCase{
		{name: "SealOpen", quick: true,
			reason: "ClientSide: Seal turns data into a cookie value and Open gives the same data back",
			run: func(ev *env) error {
				c := ev.c
				if c == nil {
					return fmt.Errorf("Capabilities.ClientSide is set but the engine does not implement sessions.ClientSide")
				}
				data := []byte("eyJhIjoiYiJ9:1r31eq:signature")
				v, err := c.Seal(ev.ctx, data)
				if err != nil {
					return expectNil("Seal", err)
				}
				if strings.ContainsAny(v, " ;,\"\\\r\n") {
					return fmt.Errorf("Seal produced a value that is not a valid cookie value: %q", v)
				}
				got, err := c.Open(ev.ctx, v)
				if err != nil {
					return expectNil("Open", err)
				}
				return expectData("Open", got, data)
			}},
		{name: "SealTooLarge", quick: true,
			reason: "ClientSide: data too large for a cookie is refused with ErrTooLarge, never sent for the browser to drop",
			run: func(ev *env) error {
				c := ev.c
				_, err := c.Seal(ev.ctx, bytes.Repeat([]byte("a"), 5000))
				return expectErr("Seal of 5000 bytes", err, sessions.ErrTooLarge)
			}},
		{name: "NoServerState",
			reason: "ClientSide: the storage methods are unsupported and Delete is harmless",
			run: func(ev *env) error {
				if _, err := ev.e.Load(ev.ctx, sessions.NewKey()); !errors.Is(err, sessions.ErrUnsupported) {
					return fmt.Errorf("Load: got %v, want ErrUnsupported", err)
				}
				return expectNil("Delete", ev.e.Delete(ev.ctx, sessions.NewKey()))
			}},
	}
}

func future(ev *env) time.Time { return time.Now().Add(time.Hour) }

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}
