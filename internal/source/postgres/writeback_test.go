package postgres

import (
	"context"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/source/sourcetest"
	"github.com/riptide-data/riptide/internal/testsvc"
)

func TestWriteBack(t *testing.T) {
	url := testsvc.PostgresURL(t)
	sourcetest.WriteBack(t, func(t *testing.T) connector.Source {
		src, err := New(context.Background(), connector.Settings{"url": url}, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}, "riptide", "sync_rows", "riptide.sync_rows")
}
