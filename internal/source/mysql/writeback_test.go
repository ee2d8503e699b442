package mysql

import (
	"context"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/testsvc"
)

func TestWriteBack(t *testing.T) {
	url := testsvc.MySQLURL(t)
	cfg, err := ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	// The test's own database is the schema: it is dropped with the test.
	sourcetest.WriteBack(t, func(t *testing.T) connector.Source {
		src, err := New(context.Background(), connector.Settings{"url": url}, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}, cfg.DBName, "sync_rows", cfg.DBName+".sync_rows")
}
