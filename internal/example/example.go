// Package example writes the working example project that `riptide init`
// creates: a DuckDB warehouse with sample customers, a model and two syncs
// to local files, so that a first run needs nothing installed.
package example

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	_ "github.com/duckdb/duckdb-go/v2"
)

//go:embed files
var files embed.FS

// Create writes the example project into dir, which must not already hold
// a riptide.yaml, and builds its warehouse.
func Create(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "riptide.yaml")); err == nil {
		return fmt.Errorf("%s already holds a riptide.yaml: choose another directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	err := fs.WalkDir(files, "files", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("files", path)
		target := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("write example project: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(".riptide/\nout/\n"), 0o644); err != nil {
		return err
	}
	return Seed(dir)
}

// Seed (re)builds the example warehouse from seed.sql.
func Seed(dir string) error {
	seed, err := os.ReadFile(filepath.Join(dir, "seed.sql"))
	if err != nil {
		return fmt.Errorf("read seed.sql: %w", err)
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, "warehouse.duckdb"))
	if err != nil {
		return fmt.Errorf("open example warehouse: %w", err)
	}
	_, err = db.Exec(string(seed))
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("build example warehouse"), err)
	}
	return nil
}
