package codec_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessions/codec"
)

// Signed is the format every Django session engine but the cache ones
// stores: the session dict as JSON, signed with SECRET_KEY under the salt
// "django.contrib.sessions.SessionStore". With the clock at 2030-01-01,
// Django 4.2's SessionStore.encode of the same dict writes exactly these
// bytes, and decodes them back.
func ExampleSigned() {
	c := codec.Signed{
		Key: "django-insecure-example-key", // SECRET_KEY
		Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	d := &codec.Dict{} // keys keep their order, as in a Python dict
	d.Set("cart", []any{"mug"})
	d.Set("user", "42")

	data, err := c.Encode(d)
	fmt.Println(string(data), err)

	back, err := c.Decode(data)
	fmt.Println(back.Keys(), back.Map(), err)

	// Data signed with another key, or changed, is refused.
	_, err = codec.Signed{Key: "another-key"}.Decode(data)
	fmt.Println(errors.Is(err, codec.ErrCorrupt))
	// Output:
	// eyJjYXJ0IjpbIm11ZyJdLCJ1c2VyIjoiNDIifQ:248kOu:6GZxNPROtgC_uWBlfwJR-XLo0OkyxVKEImZhUUNIldU <nil>
	// [cart user] map[cart:[mug] user:42] <nil>
	// true
}

// JSON is the bare serialization, byte for byte what Python's json.dumps
// writes with Django's separators: for stores that protect the bytes
// themselves. Integers come back as int64, objects as map[string]any.
func ExampleJSON() {
	d := codec.NewDict(map[string]any{"n": 3, "name": "Zoë"})
	data, err := codec.JSON{}.Encode(d)
	fmt.Println(string(data), err)

	back, err := codec.JSON{}.Decode([]byte(`{"n": 3, "tags": ["a", "b"]}`))
	n, _ := back.Get("n")
	fmt.Printf("%T %v %v\n", n, back.Map()["tags"], err)
	// Output:
	// {"n":3,"name":"Zo\u00eb"} <nil>
	// int64 [a b] <nil>
}
