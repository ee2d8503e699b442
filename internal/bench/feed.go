package bench

import (
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/value"
)

// feed adds every row of a single-key (column 0) model to a planner.
func feed(rows connector.Rows, p *diff.Planner) error {
	var payload []byte
	offs := make([]int, len(rows.Columns())+1)
	for rows.Next() {
		vals := rows.Values()
		payload = value.AppendRow(payload[:0], vals, offs)
		if err := p.Add(value.Text(vals[0]), payload, offs); err != nil {
			return err
		}
	}
	return rows.Err()
}
