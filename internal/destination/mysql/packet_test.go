package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/sqltable/sqltabletest"
)

// TestBatchOverMaxAllowedPacket: a batch whose statement would be larger
// than the server's max_allowed_packet is written whole, its long values
// streamed ahead of the statement. With the driver's own 64 MiB bound the
// server refused the packet and closed the connection, which read as a
// transient failure: the batch was retried until it gave up.
func TestBatchOverMaxAllowedPacket(t *testing.T) {
	f := setup(t, `CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(100), plan MEDIUMTEXT)`)
	var maxPacket int
	if err := f.db.QueryRow(`SELECT @@max_allowed_packet`).Scan(&maxPacket); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("p", 24<<10)
	n := maxPacket/len(value) + 10
	recs := make([]connector.Record, n)
	for i := range recs {
		recs[i] = sqltabletest.User(connector.OpUpsert, int64(i+1), fmt.Sprintf("u%d@example.com", i), value)
	}
	target := sqltabletest.UsersTarget()
	d := f.open(t, nil, target)
	if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: recs}); err != nil {
		t.Fatalf("a batch of %d × %d bytes (max_allowed_packet %d): %v", n, len(value), maxPacket, err)
	}
	if got := f.dump(t, `SELECT COUNT(*), SUM(LENGTH(plan)) FROM users`); got[0][0] != fmt.Sprint(n) || got[0][1] != fmt.Sprint(n*len(value)) {
		t.Errorf("users holds %v, want %d rows of %d bytes", got, n, len(value))
	}

}

// TestClassifyPacketTooLarge: a statement the driver will not send for
// its size is the batch's fault, so the batch is split rather than sent
// again as it is.
func TestClassifyPacketTooLarge(t *testing.T) {
	err := classify(context.Background(), fmt.Errorf("upsert 3 records into users: %w", mysql.ErrPktTooLarge))
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Retryable || re.Auth || !strings.Contains(re.Message, "max_allowed_packet") {
		t.Fatalf("classify(ErrPktTooLarge) = %#v, want a non-retryable request error naming max_allowed_packet", err)
	}
}
