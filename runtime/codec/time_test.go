package codec_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// timeZero is the zero time.Time.
var timeZero time.Time

// maxUnix is the largest Unix second a time.Time holds.
const maxUnix = math.MaxInt64 - 62135596800

var timeCases = []struct {
	name string
	t    time.Time
	size int
}{
	{"epoch", time.Unix(0, 0), 6},
	{"now-ish", time.Unix(1_700_000_000, 0), 6},
	{"max timestamp 32", time.Unix(1<<32-1, 0), 6},
	{"seconds need 34 bits", time.Unix(1<<32, 0), 10},
	{"with nanos", time.Unix(1, 1), 10},
	{"max timestamp 64", time.Unix(1<<34-1, 999999999), 10},
	{"2038 with nanos", time.Date(2038, 1, 19, 3, 14, 8, 123456789, time.UTC), 10},
	{"seconds need 35 bits", time.Unix(1<<34, 0), 15},
	{"one second before 1970", time.Unix(-1, 0), 15},
	{"before 1970 with nanos", time.Date(1969, 7, 20, 20, 17, 40, 500, time.UTC), 15},
	{"1900", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 15},
	{"zero", timeZero, 15},
	{"year 1 with nanos", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), 15},
	{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), 15},
	{"far future", time.Unix(1<<40, 5), 15},
	{"max time.Time", time.Unix(maxUnix, 999999999), 15},
	{"far past", time.Unix(math.MinInt64, 0), 15},
	{"other location", time.Date(2024, 2, 29, 12, 0, 0, 42, time.FixedZone("X", 5*3600+1800)), 10},
	{"with monotonic", time.Now(), 10},
}

func TestTimeRoundTrip(t *testing.T) {
	for _, tt := range timeCases {
		t.Run(tt.name, func(t *testing.T) {
			b := codec.AppendTime(nil, tt.t)
			assert.Len(t, b, tt.size)
			assert.LessOrEqual(t, len(b), codec.MaxTime)
			assert.Equal(t, marshal(t, tt.t), b, "same bytes as msgpack")

			got, err := codec.Time(b)
			require.NoError(t, err)
			assert.True(t, tt.t.Equal(got), "%v != %v", tt.t, got)
			if tt.t.IsZero() {
				assert.Equal(t, time.UTC, got.Location(), "zero time comes back in UTC")
			} else {
				assert.Equal(t, time.Local, got.Location(), "like msgpack, the instant comes back in Local")
			}

			// msgpack reads codec's bytes into the identical value.
			var viaMsgpack time.Time
			require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
			assert.Equal(t, viaMsgpack, got)
			assert.True(t, viaMsgpack == got, "identical time.Time values")
		})
	}
}

// TestTimeOtherHeaders reads timestamps under ext headers msgpack does not
// write but does read, and the Node.js extension type 13.
func TestTimeOtherHeaders(t *testing.T) {
	want := time.Unix(1<<34, 7)
	data := codec.AppendTime(nil, want)[3:] // the 12 data bytes
	require.Len(t, data, 12)

	forms := map[string][]byte{
		"ext16":             append([]byte{0xc8, 0x00, 12, 0xff}, data...),
		"ext32":             append([]byte{0xc9, 0, 0, 0, 12, 0xff}, data...),
		"type 13":           append([]byte{0xc7, 12, 13}, data...),
		"ext8 timestamp 32": {0xc7, 4, 0xff, 0, 0, 0, 9},
		"ext8 timestamp 64": append([]byte{0xc7, 8, 0xff}, codec.AppendTime(nil, time.Unix(5, 5))[2:]...),
	}
	expect := map[string]time.Time{
		"ext16": want, "ext32": want, "type 13": want,
		"ext8 timestamp 32": time.Unix(9, 0), "ext8 timestamp 64": time.Unix(5, 5),
	}
	for name, b := range forms {
		got, err := codec.Time(b)
		require.NoError(t, err, name)
		assert.True(t, expect[name].Equal(got), name)

		var viaMsgpack time.Time
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack), name)
		assert.Equal(t, viaMsgpack, got, name)
	}
}

func TestTimeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		kind error
		msg  string
	}{
		{"nil", []byte{0xc0}, codec.ErrType, "codec: want timestamp, found nil"},
		{"int", codec.AppendInt(nil, 1700000000), codec.ErrType, "codec: want timestamp, found int"},
		{"string", codec.AppendString(nil, "2024-01-01T00:00:00Z"), codec.ErrType, "codec: want timestamp, found str"},
		{"other ext", []byte{0xd6, 0x05, 0, 0, 0, 0}, codec.ErrType, "codec: want timestamp, found ext type 5"},
		{"fixext16", append([]byte{0xd8, 0xff}, make([]byte, 16)...), codec.ErrMalformed,
			"codec: want timestamp: invalid data length 16"},
		{"fixext1", []byte{0xd4, 0xff, 0}, codec.ErrMalformed, "codec: want timestamp: invalid data length 1"},
		{"ext8 len 5", []byte{0xc7, 5, 0xff, 0, 0, 0, 0, 0}, codec.ErrMalformed,
			"codec: want timestamp: invalid data length 5"},
		{"truncated fixext4", []byte{0xd6, 0xff, 0, 0}, codec.ErrMalformed,
			"codec: want timestamp: truncated input: value needs 6 bytes, have 4"},
		{"truncated header", []byte{0xd6}, codec.ErrMalformed,
			"codec: want timestamp: truncated input: value needs 2 bytes, have 1"},
		{"truncated ext8 header", []byte{0xc7, 12}, codec.ErrMalformed,
			"codec: want timestamp: truncated input: value needs 3 bytes, have 2"},
		{"truncated ext32 header", []byte{0xc9, 0, 0, 0}, codec.ErrMalformed,
			"codec: want timestamp: truncated input: value needs 6 bytes, have 4"},
		{"truncated ext32 data", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 0}, codec.ErrMalformed,
			"codec: want timestamp: truncated input: value needs 4294967301 bytes, have 7"},
		{"trailing", append(codec.AppendTime(nil, time.Unix(1, 0)), 0), codec.ErrMalformed,
			"codec: want timestamp: 1 trailing bytes after the value"},
		{"nanos 1e9 in timestamp 96", []byte{0xc7, 12, 0xff, 0x3b, 0x9a, 0xca, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},
			codec.ErrMalformed, "codec: want timestamp: nanoseconds 1000000000 above 999999999"},
		{"nanos 2^30-1 in timestamp 64", []byte{0xd7, 0xff, 0xff, 0xff, 0xff, 0xfc, 0, 0, 0, 0},
			codec.ErrMalformed, "codec: want timestamp: nanoseconds 1073741823 above 999999999"},
		{"seconds beyond time.Time", []byte{0xc7, 12, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			codec.ErrRange, "codec: timestamp seconds 9223372036854775807 out of range for time.Time"},
	}
	for _, tt := range tests {
		_, err := codec.Time(tt.in)
		require.ErrorIs(t, err, tt.kind, tt.name)
		assert.EqualError(t, err, tt.msg, tt.name)
		assert.Equal(t, 1, sentinels(err), tt.name)
	}

	// msgpack rejects nil for a time as well.
	var viaMsgpack time.Time
	require.Error(t, msgpack.Unmarshal([]byte{0xc0}, &viaMsgpack))
}

func TestTimeLargestSeconds(t *testing.T) {
	b := codec.AppendTime(nil, time.Unix(maxUnix, 999999999))
	got, err := codec.Time(b)
	require.NoError(t, err)
	assert.Equal(t, int64(maxUnix), got.Unix())
	assert.Equal(t, 999999999, got.Nanosecond())

	b = codec.AppendTime(nil, time.Unix(maxUnix+1, 0))
	_, err = codec.Time(b)
	require.ErrorIs(t, err, codec.ErrRange)
}
