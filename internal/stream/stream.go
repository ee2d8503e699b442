// Package stream follows one PostgreSQL table through logical replication
// (the pgoutput plugin): it keeps a publication and a replication slot for
// it, decodes committed transactions into changes of canonical values, and
// tells the server how far the caller has acknowledged them.
//
// The slot's confirmed position moves only when the caller calls Ack with
// the end of a transaction it has delivered: a stream closed or killed
// before that starts again, on the next Open, at the first transaction not
// acknowledged. Delivery is therefore at least once.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// ErrSlotInUse is the server's refusal of a slot another connection
// streams from: a slot admits one reader.
var ErrSlotInUse = errors.New("the slot is in use by another connection")

// LSN is a position in PostgreSQL's write-ahead log.
type LSN = pglogrepl.LSN

// ParseLSN reads a position written as PostgreSQL writes it ("16/B374D848").
func ParseLSN(s string) (LSN, error) { return pglogrepl.ParseLSN(s) }

// Config names what a stream follows and where it keeps its place.
type Config struct {
	// URL is the database's connection URL (postgres://…). The user needs
	// the REPLICATION attribute, and to own the table or a publication
	// already covering it.
	URL string
	// Table is the table followed: "name" (in the search path, public by
	// default) or "schema.name". Its changes are decoded.
	Table string
	// Watch are tables whose changes are only noticed: a transaction
	// that changes or truncates one is delivered with the tables it
	// touched (Tx.Touched), its changes to them not decoded. A model
	// that joins or aggregates watches every table it reads.
	Watch []string
	// Slot and Publication are the names of the replication slot and the
	// publication, one per sync: lower-case letters, digits and
	// underscores, at most 63 characters.
	Slot        string
	Publication string
	// StatusInterval is how often the server is told how far the stream
	// is acknowledged even when nothing happens; 10 s when zero. It must
	// stay well below the server's wal_sender_timeout.
	StatusInterval time.Duration
	Logger         *slog.Logger
}

func (c Config) validate() error {
	if c.URL == "" {
		return errors.New("stream: no database url")
	}
	if c.Table == "" && len(c.Watch) == 0 {
		return errors.New("stream: no table to follow")
	}
	for _, n := range []struct{ what, name string }{{"slot", c.Slot}, {"publication", c.Publication}} {
		if err := checkName(n.name); err != nil {
			return fmt.Errorf("stream: %s name %q: %w", n.what, n.name, err)
		}
	}
	return nil
}

// checkName accepts the names the server takes without quoting; a slot
// name may hold nothing else.
func checkName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 63 {
		return errors.New("longer than 63 characters")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("holds %q: only a-z, 0-9 and _ are allowed", r)
		}
	}
	return nil
}

// Stream delivers the committed transactions touching one table, in
// commit order. Next and Ack may be called from different goroutines.
type Stream struct {
	cfg     Config
	table   Table
	watched []Table
	start   LSN
	created bool

	conn  *pgconn.PgConn
	txs   chan Tx
	acked atomic.Uint64
	nudge chan struct{}
	// wake interrupts the loop's wait for the server, so that an Ack
	// reaches the server at once.
	wakeMu sync.Mutex
	wake   context.CancelFunc

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Open makes sure the table can be followed (it has a primary key and the
// default replica identity), that the publication covers it and that the
// slot exists, then starts replication from the slot's confirmed
// position.
func Open(ctx context.Context, cfg Config) (*Stream, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{cfg: cfg, txs: make(chan Tx), nudge: make(chan struct{}, 1), done: make(chan struct{})}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	if err := s.startReplication(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.run(rctx)
	return s, nil
}

// prepare checks the table and sets up the publication and the slot over
// an ordinary connection.
func (s *Stream) prepare(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.cfg.URL)
	if err != nil {
		return fmt.Errorf("stream: connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var tables []Table
	if s.cfg.Table != "" {
		if s.table, err = lookupTable(ctx, conn, s.cfg.Table, false); err != nil {
			return err
		}
		tables = append(tables, s.table)
	}
	for _, name := range s.cfg.Watch {
		t, err := lookupTable(ctx, conn, name, true)
		if err != nil {
			return err
		}
		s.watched = append(s.watched, t)
		tables = append(tables, t)
	}
	for _, t := range tables {
		if err := ensurePublication(ctx, conn, s.cfg.Publication, t); err != nil {
			return err
		}
	}
	var confirmed *string
	err = conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots
		WHERE slot_name = $1 AND database = current_database()`, s.cfg.Slot).Scan(&confirmed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil // created on the replication connection
	case err != nil:
		return fmt.Errorf("stream: look up slot %s: %w", s.cfg.Slot, err)
	case confirmed == nil:
		return fmt.Errorf("stream: slot %s is not a logical slot of this database", s.cfg.Slot)
	}
	if s.start, err = pglogrepl.ParseLSN(*confirmed); err != nil {
		return fmt.Errorf("stream: slot %s confirmed position %q: %w", s.cfg.Slot, *confirmed, err)
	}
	return nil
}

// replicationConfig is the URL's connection in logical replication mode,
// with the settings under which column values are written as text fixed
// to those TextDecoder reads.
func (s *Stream) replicationConfig() (*pgconn.Config, error) {
	cfg, err := textConfig(s.cfg.URL)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "riptide stream " + s.cfg.Slot
	}
	return cfg, nil
}

// textConfig is the URL's connection with the settings under which
// column values are written as text fixed to those TextDecoder reads.
func textConfig(url string) (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, errors.New("stream: invalid database url")
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["DateStyle"] = "ISO"
	cfg.RuntimeParams["IntervalStyle"] = "postgres"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["extra_float_digits"] = "3"
	return cfg, nil
}

func (s *Stream) startReplication(ctx context.Context) error {
	cfg, err := s.replicationConfig()
	if err != nil {
		return err
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("stream: open replication connection: %s", rootCause(err))
	}
	if s.start == 0 {
		res, err := pglogrepl.CreateReplicationSlot(ctx, conn, s.cfg.Slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
		if err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return fmt.Errorf("stream: create replication slot %s: %s", s.cfg.Slot, rootCause(err))
		}
		if s.start, err = pglogrepl.ParseLSN(res.ConsistentPoint); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return fmt.Errorf("stream: slot %s consistent point %q: %w", s.cfg.Slot, res.ConsistentPoint, err)
		}
		s.created = true
		s.cfg.Logger.Info("replication slot created", "slot", s.cfg.Slot, "consistent_point", s.start.String())
	}
	err = pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, s.start, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names '" + s.cfg.Publication + "'"},
	})
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" { // object_in_use
			return fmt.Errorf("stream: start replication on slot %s: %w: %s", s.cfg.Slot, ErrSlotInUse, pgErr.Message)
		}
		return fmt.Errorf("stream: start replication on slot %s: %s", s.cfg.Slot, rootCause(err))
	}
	s.conn = conn
	s.acked.Store(uint64(s.start))
	return nil
}

// Start is the position the stream started from: the slot's confirmed
// position, or its consistent point when Open created it. Every
// transaction committed after a slot's consistent point is delivered, so a
// batch read of the table begun after Open misses nothing.
func (s *Stream) Start() LSN { return s.start }

// Created reports whether Open created the slot.
func (s *Stream) Created() bool { return s.created }

// Table is the followed table as the catalog describes it (zero when the
// stream only watches).
func (s *Stream) Table() Table { return s.table }

// Watched are the watched tables as the catalog describes them.
func (s *Stream) Watched() []Table { return s.watched }

// Next waits for the next committed transaction that changed the table.
func (s *Stream) Next(ctx context.Context) (Tx, error) {
	select {
	case tx := <-s.txs:
		return tx, nil
	case <-s.done:
		return Tx{}, s.Err()
	case <-ctx.Done():
		return Tx{}, ctx.Err()
	}
}

// Ack acknowledges every transaction that ends at or before end: the
// server may forget them, and a stream opened later starts after them.
func (s *Stream) Ack(end LSN) {
	for {
		cur := s.acked.Load()
		if uint64(end) <= cur || s.acked.CompareAndSwap(cur, uint64(end)) {
			break
		}
	}
	select {
	case s.nudge <- struct{}{}:
	default:
	}
	s.wakeMu.Lock()
	if s.wake != nil {
		s.wake()
	}
	s.wakeMu.Unlock()
}

// Err is why the stream stopped, once it has; nil after Close.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close tells the server how far the stream is acknowledged and closes
// the replication connection. The slot stays: Drop removes it.
func (s *Stream) Close() error {
	s.cancel()
	<-s.done
	if err := s.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Drop removes the slot and the publication of a sync that no longer
// streams; the stream must be closed.
func Drop(ctx context.Context, url, slot, publication string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("stream: connect postgres: %s", rootCause(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkName(slot); err != nil {
		return fmt.Errorf("stream: slot name %q: %w", slot, err)
	}
	if err := checkName(publication); err != nil {
		return fmt.Errorf("stream: publication name %q: %w", publication, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_catalog.pg_drop_replication_slot(slot_name)
		FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot); err != nil {
		return fmt.Errorf("stream: drop slot %s: %s", slot, rootCause(err))
	}
	if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+publication); err != nil {
		return fmt.Errorf("stream: drop publication %s: %s", publication, rootCause(err))
	}
	return nil
}

// run owns the replication connection: it reads and decodes the server's
// messages, hands each committed transaction to Next and keeps the server
// informed of the acknowledged position, also while Next is not called,
// so that the server does not time the stream out.
func (s *Stream) run(ctx context.Context) {
	d := decoder{table: s.table, watched: s.watched, relations: map[uint32]*relation{}}
	var (
		serverEnd LSN // the server's sent position, from its keepalives
		handedOff LSN // end of the last transaction given to Next
	)
	status := func() error {
		flush := LSN(s.acked.Load())
		// Idle, with every transaction handed off acknowledged, the
		// stream is caught up to the server: confirming its position lets
		// the server recycle WAL written for other tables.
		if !d.inTx && flush >= handedOff && serverEnd > flush {
			flush = serverEnd
			s.acked.Store(uint64(flush))
		}
		return pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{
			WALWritePosition: max(flush, d.received), WALFlushPosition: flush, WALApplyPosition: flush,
		})
	}
	err := func() error {
		next := time.Now().Add(s.cfg.StatusInterval)
		for {
			select {
			case <-s.nudge:
				next = time.Now()
			default:
			}
			if !time.Now().Before(next) {
				if err := status(); err != nil {
					return fmt.Errorf("send standby status: %w", err)
				}
				next = time.Now().Add(s.cfg.StatusInterval)
			}
			rctx, cancel := context.WithDeadline(ctx, next)
			s.wakeMu.Lock()
			s.wake = cancel
			s.wakeMu.Unlock()
			msg, err := s.conn.ReceiveMessage(rctx)
			s.wakeMu.Lock()
			s.wake = nil
			s.wakeMu.Unlock()
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// A deadline, or Ack waking the loop up: the connection
				// stays usable, the message being read resumes.
				if rctx.Err() != nil {
					continue
				}
				return fmt.Errorf("receive: %s", rootCause(err))
			}
			var data []byte
			switch m := msg.(type) {
			case *pgproto3.CopyData:
				data = m.Data
			case *pgproto3.ErrorResponse:
				return fmt.Errorf("server: %s", m.Message)
			default:
				continue
			}
			if len(data) == 0 {
				continue
			}
			switch data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
				if err != nil {
					return fmt.Errorf("parse keepalive: %w", err)
				}
				serverEnd = max(serverEnd, k.ServerWALEnd)
				if k.ReplyRequested {
					next = time.Now()
				}
			case pglogrepl.XLogDataByteID:
				x, err := pglogrepl.ParseXLogData(data[1:])
				if err != nil {
					return fmt.Errorf("parse xlog data: %w", err)
				}
				tx, ok, err := d.decode(x)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				handedOff = tx.End
				if err := s.handOff(ctx, tx, status); err != nil {
					return err
				}
			}
		}
	}()
	// The last word to the server is how far the caller acknowledged;
	// ending the copy and waiting for the server's answer makes sure it
	// took it in before Close returns.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if serr := status(); serr != nil && err == nil {
		err = fmt.Errorf("send standby status: %w", serr)
	} else if serr == nil {
		_ = s.conn.Conn().SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = pglogrepl.SendStandbyCopyDone(sctx, s.conn)
	}
	_ = s.conn.Close(sctx)
	cancel()
	s.mu.Lock()
	s.err = err
	if err != nil && !errors.Is(err, context.Canceled) {
		s.err = fmt.Errorf("stream %s: %w", s.cfg.Slot, err)
	}
	s.mu.Unlock()
	close(s.done)
}

// handOff waits for Next to take tx, telling the server meanwhile that
// the stream is alive.
func (s *Stream) handOff(ctx context.Context, tx Tx, status func() error) error {
	tick := time.NewTicker(s.cfg.StatusInterval)
	defer tick.Stop()
	for {
		select {
		case s.txs <- tx:
			return nil
		case <-tick.C:
			if err := status(); err != nil {
				return fmt.Errorf("send standby status: %w", err)
			}
		case <-s.nudge:
			if err := status(); err != nil {
				return fmt.Errorf("send standby status: %w", err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// rootCause is the innermost error's message, the server's own when there
// is one: the connection URL never appears in it.
func rootCause(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
