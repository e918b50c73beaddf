package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// Item is a line of a shopping cart.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Cart is declared once; every handler that uses it agrees on its type.
var Cart = sessions.Typed[[]Item]("cart")

// Declare a typed key, and read and write it. The session stores the same
// JSON Django would for the same data.
func ExampleTyped() {
	ctx := context.Background()
	m := exampleManager()
	s := m.NewSession(ctx)

	cart, err := Cart.Get(s) // absent: an empty cart, no error
	fmt.Println(len(cart), err)

	if err := Cart.Set(s, append(cart, Item{SKU: "apple", Qty: 2})); err != nil {
		panic(err)
	}
	s.Save(ctx)

	next := m.Load(ctx, s.Key()) // the next request
	cart, err = Cart.Get(next)
	fmt.Println(cart, err)
	b, _ := codec.MarshalPython(codec.NewDict(map[string]any{"cart": next.Get("cart")}))
	fmt.Println(string(b))
	// Output:
	// 0 <nil>
	// [{apple 2}] <nil>
	// {"cart":[{"qty":2,"sku":"apple"}]}
}

// A value of another type, for example written by an older version of the
// application, is an error matching ErrWrongType that names the key and
// the types, never the value.
func ExampleTypedKey_Get_wrongType() {
	s := exampleManager().NewSession(context.Background())
	s.Set("cart", "apple,pear") // an old version kept a string

	_, err := Cart.Get(s)
	fmt.Println(errors.Is(err, sessions.ErrWrongType))
	fmt.Println(err)
	// Output:
	// true
	// sessions: session key "cart" holds a string, not []sessions_test.Item
}

// Lookup tells an absent key from a zero value.
func ExampleTypedKey_Lookup() {
	visits := sessions.Typed[int]("visits")
	s := exampleManager().NewSession(context.Background())

	_, ok, _ := visits.Lookup(s)
	fmt.Println(ok)
	visits.Set(s, 0)
	n, ok, err := visits.Lookup(s)
	fmt.Println(n, ok, err)
	// Output:
	// false
	// 0 true <nil>
}

// Set refuses, at once, a value that would not come back as it went in.
func ExampleTypedKey_Set_unencodable() {
	ratio := sessions.Typed[float64]("ratio")
	s := exampleManager().NewSession(context.Background())

	err := ratio.Set(s, math.NaN())
	fmt.Println(errors.Is(err, codec.ErrUnencodable), s.Has("ratio"))
	// Output: true false
}
