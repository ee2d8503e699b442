package scheduler

import "time"

// Clock tells the scheduler the time and wakes it at a given time. Tests
// pass a clock they move by hand, so that no test waits on the wall clock.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reaches t (at once
	// when t is not in the future), and a function that releases it.
	At(t time.Time) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) At(t time.Time) (<-chan time.Time, func()) {
	timer := time.NewTimer(time.Until(t))
	return timer.C, func() { timer.Stop() }
}
