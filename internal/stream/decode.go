package stream

import (
	"bytes"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/riptide-data/riptide/internal/source/postgres"
	"github.com/riptide-data/riptide/internal/value"
)

// Op is what a change did to a row.
type Op uint8

const (
	Insert Op = iota + 1
	Update
	Delete
)

func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Column is one column of the followed table, as its last relation
// message described it.
type Column struct {
	Name string
	// Type is the column's type OID.
	Type uint32
	// Key marks the primary key's columns.
	Key bool
}

// Change is one row changed. Values are canonical (internal/value), the
// same a query of the table gives, so that a streamed row hashes exactly
// like the row read in a batch.
type Change struct {
	Op      Op
	Columns []Column
	// Row is the row after an insert or update, one value per column;
	// nil for a delete. A value the server did not send because it is
	// stored out of line (TOAST) and the update left it as it was is
	// Unchanged.
	Row []any
	// Key is the primary key, one value per column (nil for the
	// others), of the row before the change: for an update that changed
	// the key the old key, for a delete the deleted row's.
	Key []any
}

// KeyChanged reports whether an update moved the row to another key.
func (c Change) KeyChanged() bool {
	if c.Op != Update {
		return false
	}
	for i, col := range c.Columns {
		if col.Key && !bytes.Equal(value.Append(nil, c.Key[i]), value.Append(nil, c.Row[i])) {
			return true
		}
	}
	return false
}

// Unchanged stands for a TOASTed value an update did not touch; the
// server does not send it again.
var Unchanged = unchanged{}

type unchanged struct{}

func (unchanged) String() string { return "<unchanged>" }

// Tx is one committed transaction's changes to the table, in the order
// they were made.
type Tx struct {
	Changes []Change
	// Truncated reports that the transaction truncated the followed
	// table: the rows it held went without a change each.
	Truncated bool
	// Touched lists the watched tables the transaction changed or
	// truncated, each once.
	Touched []Table
	// End is the position just past the commit: the position to Ack once
	// the changes are delivered.
	End    LSN
	Commit time.Time
}

// relation is a table as the stream last described it, with a decoder
// per column.
type relation struct {
	followed bool
	// watched is the index in decoder.watched of a watched table, or -1.
	watched  int
	columns  []Column
	decoders []func([]byte) (any, error)
}

// decoder turns pgoutput messages into transactions. It is used by one
// goroutine.
type decoder struct {
	table     Table
	watched   []Table
	relations map[uint32]*relation
	inTx      bool
	tx        Tx
	received  LSN // end of the last message received
}

// decode takes one message; at a commit it returns the transaction if it
// changed the table.
func (d *decoder) decode(x pglogrepl.XLogData) (Tx, bool, error) {
	d.received = max(d.received, x.WALStart+LSN(len(x.WALData)))
	msg, err := pglogrepl.Parse(x.WALData)
	if err != nil {
		return Tx{}, false, fmt.Errorf("parse logical replication message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		d.relation(m)
	case *pglogrepl.BeginMessage:
		d.inTx = true
		d.tx = Tx{}
	case *pglogrepl.CommitMessage:
		d.inTx = false
		d.received = max(d.received, m.TransactionEndLSN)
		if len(d.tx.Changes) == 0 && !d.tx.Truncated && len(d.tx.Touched) == 0 {
			return Tx{}, false, nil
		}
		tx := d.tx
		tx.End, tx.Commit = m.TransactionEndLSN, m.CommitTime
		d.tx = Tx{}
		return tx, true, nil
	case *pglogrepl.InsertMessage:
		return Tx{}, false, d.change(m.RelationID, Insert, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		return Tx{}, false, d.change(m.RelationID, Update, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		return Tx{}, false, d.change(m.RelationID, Delete, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			r := d.relations[id]
			switch {
			case r == nil:
			case r.followed:
				d.tx.Truncated = true
			case r.watched >= 0:
				d.touch(r.watched)
			}
		}
	}
	return Tx{}, false, nil
}

func (d *decoder) relation(m *pglogrepl.RelationMessage) {
	r := &relation{followed: m.Namespace == d.table.Schema && m.RelationName == d.table.Name, watched: -1}
	for i, t := range d.watched {
		if m.Namespace == t.Schema && m.RelationName == t.Name {
			r.watched = i
		}
	}
	for _, c := range m.Columns {
		r.columns = append(r.columns, Column{Name: c.Name, Type: c.DataType, Key: c.Flags&1 != 0})
		r.decoders = append(r.decoders, postgres.TextDecoder(c.DataType))
	}
	d.relations[m.RelationID] = r
}

func (d *decoder) change(id uint32, op Op, old, new *pglogrepl.TupleData) error {
	r := d.relations[id]
	if r == nil {
		return fmt.Errorf("change to relation %d before its description", id)
	}
	if r.watched >= 0 {
		d.touch(r.watched)
	}
	if !r.followed {
		return nil
	}
	c := Change{Op: op, Columns: r.columns}
	var err error
	if new != nil {
		if c.Row, err = d.tuple(r, new); err != nil {
			return err
		}
	}
	if old != nil {
		if c.Key, err = d.tuple(r, old); err != nil {
			return err
		}
	} else {
		c.Key = make([]any, len(c.Row))
		for i, col := range r.columns {
			if col.Key {
				c.Key[i] = c.Row[i]
			}
		}
	}
	for i, col := range r.columns {
		if !col.Key {
			c.Key[i] = nil
		} else if c.Key[i] == nil || c.Key[i] == Unchanged {
			return fmt.Errorf("%s of table %s came without its key column %s", op, d.table, col.Name)
		}
	}
	d.tx.Changes = append(d.tx.Changes, c)
	return nil
}

// touch notes that the transaction changed the i-th watched table.
func (d *decoder) touch(i int) {
	t := d.watched[i]
	for _, seen := range d.tx.Touched {
		if seen.Schema == t.Schema && seen.Name == t.Name {
			return
		}
	}
	d.tx.Touched = append(d.tx.Touched, t)
}

func (d *decoder) tuple(r *relation, t *pglogrepl.TupleData) ([]any, error) {
	if len(t.Columns) != len(r.columns) {
		return nil, fmt.Errorf("row of %d columns for table %s of %d", len(t.Columns), d.table, len(r.columns))
	}
	row := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
		case pglogrepl.TupleDataTypeToast:
			row[i] = Unchanged
		case pglogrepl.TupleDataTypeText:
			v, err := r.decoders[i](c.Data)
			if err != nil {
				return nil, fmt.Errorf("column %s of table %s: %w", r.columns[i].Name, d.table, err)
			}
			row[i] = v
		default:
			return nil, fmt.Errorf("column %s of table %s: value in format %q, want text", r.columns[i].Name, d.table, c.DataType)
		}
	}
	return row, nil
}
