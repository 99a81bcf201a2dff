package codec_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

func Example() {
	// Encode a few values into one reusable buffer, each as its own field.
	buf := make([]byte, 0, 64)
	age := codec.AppendInt(buf, 300)
	fmt.Printf("% x\n", age)

	// Decode with a range check: 300 does not fit an int8.
	if _, err := codec.Int(age, 8); errors.Is(err, codec.ErrRange) {
		fmt.Println(err)
	}
	n, _ := codec.Int(age, 16)
	fmt.Println(n)

	// A value of another type is reported, not zeroed.
	_, err := codec.Int(codec.AppendString(nil, "300"), 64)
	fmt.Println(err, errors.Is(err, codec.ErrType))

	// Times use the msgpack timestamp extension.
	at := codec.AppendTime(nil, time.Unix(1700000000, 0))
	fmt.Printf("% x\n", at)
	t, _ := codec.Time(at)
	fmt.Println(t.UTC())

	// Worst-case sizes budget a field before it holds anything.
	fmt.Println(codec.StringSize(40), codec.MaxTime)

	// Output:
	// cd 01 2c
	// codec: 300 out of range for int8
	// 300
	// codec: want int, found str true
	// d6 ff 65 53 f1 00
	// 2023-11-14 22:13:20 +0000 UTC
	// 42 15
}
