package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
)

func TestWriteBack(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE users (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	sourcetest.WriteBack(t, func(t *testing.T) connector.Source {
		src, err := New(context.Background(), connector.Settings{"path": "w.db"}, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}, "riptide", "sync_rows", "sync_rows")
}
