//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package file

import "os"

// lockSupported is false here: without flock, every matching temporary
// file counts as stale, so two runs whose sync names share a prefix must
// not write to the same directory at the same time.
const lockSupported = false

func tryLock(*os.File) (bool, error) { return true, nil }

// syncDir is a no-op: directories cannot be synced on these systems.
func syncDir(string) error { return nil }
