// Package workload holds what every benchmark and the load server share:
// the sessions they store and the two requests they serve.
package workload

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
)

func init() {
	// The peers encode sessions with encoding/gob, which needs the
	// concrete types behind interface values registered: the cart is a
	// list of small maps.
	gob.Register([]any{})
	gob.Register(map[string]any{})
}

// UserKey is the value every read-only request reads: the logged-in user.
const UserKey = "_auth_user_id"

// CounterKey is the value every read-write request increments.
const CounterKey = "n"

// Session is the standard benchmark session, what a Django shop stores
// for a logged-in user with a cart and preferences: about 260 bytes of
// JSON. Every engine and every peer is measured with it unless a
// benchmark says otherwise.
func Session() map[string]any {
	return map[string]any{
		UserKey:              "1042",
		"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
		// Django's session auth hash: HMAC-SHA256 hex of the password hash.
		"_auth_user_hash": "9f4b2c1e7a3d5f60b8e2d4c6a1f3e5d7c9b0a2e4f6d8c1b3a5e7f9d0c2b4a6e8",
		"cart": []any{
			map[string]any{"sku": "BK-1042", "qty": 2},
			map[string]any{"sku": "MG-0007", "qty": 1},
		},
		"theme":    "dark",
		CounterKey: 0,
	}
}

// Sized is a session of about size bytes of JSON (never more), for the
// size sweep: the logged-in user, a theme, the counter, and a cart with as
// many items as it takes (a real session grows by its contents, not by
// one long string), the last few bytes in a note.
func Sized(size int) map[string]any {
	m := map[string]any{UserKey: "1042", "theme": "dark", CounterKey: 0}
	// Count the cart's bytes item by item (marshalling the whole session
	// per item would be quadratic): `,"cart":[` + items and commas + `]`.
	total := JSONSize(m) + len(`,"cart":[]`) - 1
	var cart []any
	for i := 0; ; i++ {
		item := map[string]any{"sku": fmt.Sprintf("SKU-%06d", i*7919%1000000), "qty": 1 + i%5, "price": fmt.Sprintf("%d.%02d", 3+i*13%97, i*37%100)}
		n := JSONSize(item) + 1
		if total+n > size {
			break
		}
		total += n
		cart = append(cart, item)
	}
	if len(cart) > 0 {
		m["cart"] = cart
	}
	if pad := size - JSONSize(m) - len(`,"note":""`); pad > 0 {
		b := make([]byte, pad)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i*7%36]
		}
		m["note"] = string(b)
	}
	return m
}

// JSONSize is the length of m as JSON.
func JSONSize(m map[string]any) int {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return len(b)
}
