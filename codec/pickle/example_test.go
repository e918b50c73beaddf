package pickle_test

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
)

// A session pickled as Django's cache engines store it, and read back.
func ExampleCodec() {
	d := &codec.Dict{}
	d.Set("a", "b")
	d.Set("n", 1)
	d.Set("_session_expiry", 300)

	b, err := pickle.Codec{}.Encode(d)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", b) // what pickle.dumps(d, 5) writes

	back, err := pickle.Codec{}.Decode(b)
	if err != nil {
		panic(err)
	}
	for k, v := range back.All() {
		fmt.Printf("%s=%v (%T)\n", k, v, v)
	}
	// Output:
	// 80059528000000000000007d94288c0161948c0162948c016e944b018c0f5f73657373696f6e5f657870697279944d2c01752e
	// a=b (string)
	// n=1 (int64)
	// _session_expiry=300 (int64)
}

// A pickle that would run a command when Python loads it is refused: the
// session is treated as corrupt, nothing is looked up or called.
func ExampleCodec_Decode_hostile() {
	// pickle.dumps({"x": Evil()}, 5) where Evil.__reduce__ returns
	// (os.system, ("echo pwned",)).
	evil, _ := hex.DecodeString("8005952c000000000000007d948c0178948c05706f736978948c0673797374656d9493948c0a6563686f2070776e65649485945294732e")
	_, err := pickle.Codec{}.Decode(evil)
	fmt.Println(errors.Is(err, codec.ErrCorrupt), errors.Is(err, pickle.ErrNotPlainData))
	fmt.Println(err)
	// Output:
	// true true
	// codec: corrupt session data: pickle: not plain data: opcode STACK_GLOBAL (names a Python global) at offset 34
}

// Marshal and Unmarshal handle plain values of any shape.
func ExampleUnmarshal() {
	b, _ := pickle.Marshal([]any{1, "two", 3.5, nil, map[string]any{"k": true}})
	v, _ := pickle.Unmarshal(b)
	fmt.Printf("%v\n", v)
	// Output: [1 two 3.5 <nil> map[k:true]]
}
