package arena

import (
	"strings"
	"testing"
)

func TestStringsSurviveLaterWrites(t *testing.T) {
	var a Arena
	src := []byte("hello")
	var got []string
	want := []string{}
	for i := range 20000 {
		src[0] = byte('a' + i%26)
		got = append(got, a.String(src))
		want = append(want, string(src))
		if i%100 == 0 {
			big := strings.Repeat("x", blockSize) // larger than a block
			got = append(got, a.String([]byte(big)))
			want = append(want, big)
		}
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d changed: %q, want %q", i, got[i], want[i])
		}
	}
	if a.String(nil) != "" || a.String([]byte{}) != "" {
		t.Error("empty input must give the empty string")
	}
}

func BenchmarkString(b *testing.B) {
	var a Arena
	src := []byte("user123456@example.com")
	b.ReportAllocs()
	for b.Loop() {
		_ = a.String(src)
	}
}
