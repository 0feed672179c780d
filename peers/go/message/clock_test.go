package message

import (
	"testing"
	"time"

	"correio.dev/peers/go/codec"
)

func TestLamportClockFollowsTheProtocolBounds(t *testing.T) {
	now := time.Unix(0, 0)
	clock := &LamportClock{FreeJump: 10, MaxJump: 1_000, RefillPerSecond: 100, Now: func() time.Time { return now }}
	hostile := int64(codec.MaxSafeInteger - 1)
	if !clock.ObserveRequest(hostile) || clock.Value() != 1_001 {
		t.Fatalf("merged %d, want the whole budget and no more, reported clamped", clock.Value())
	}
	if !clock.Observe(hostile) || clock.Value() != 1_012 {
		t.Fatalf("merged %d, want only the free jump once the budget is spent", clock.Value())
	}
	now = now.Add(time.Second)
	if clock.ObserveRequest(1_012+100) || clock.Value() != 1_113 {
		t.Fatalf("merged %d: the budget did not refill", clock.Value())
	}
	if clamped, requests := clock.Stats(); clamped != 2 || requests != 1 {
		t.Fatalf("clamped %d, of them requests %d", clamped, requests)
	}
	clock.Observe(-1)
	clock.Observe(codec.MaxSafeInteger + 1)
	if clock.Value() != 1_113 {
		t.Fatal("merged a value outside 0..2^53-1")
	}
}

func TestLamportClockKeepsRoomToTickAndDegradesAtTheCeiling(t *testing.T) {
	clock := NewLamportClock(MaxMergedLamport - 5)
	clock.Observe(codec.MaxSafeInteger)
	if clock.Value() != MaxMergedLamport+1 {
		t.Fatalf("merged to %d", clock.Value())
	}
	full := NewLamportClock(codec.MaxSafeInteger)
	if !full.Exhausted() || full.Tick() != codec.MaxSafeInteger {
		t.Fatal("an exhausted clock must say so and never wrap")
	}
}
