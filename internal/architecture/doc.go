// Package architecture holds no code: its test checks that dependencies
// between Riptide's packages point the way the README's layout says, so
// that the direction cannot rot unnoticed.
package architecture
