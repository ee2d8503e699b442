package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// queued ties a command of the transaction to the record it writes.
type queued struct {
	record int
	cmd    goredis.Cmder
}

// Write applies one batch in one MULTI/EXEC transaction. Commands Redis
// refuses at execution (a key of another type, say) fail their record
// while the others apply: *connector.RowErrors. A refused connection or
// credentials fail the batch: a plain error (retried) or an auth
// *connector.RequestError (the run stops).
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	cmds := make([]queued, 0, 2*len(b.Records))
	var buf []byte
	_, err := d.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i := range b.Records {
			r := &b.Records[i]
			key := d.Key(r.Key)
			if r.Op == connector.OpDelete {
				cmds = append(cmds, queued{i, pipe.Del(ctx, key)})
				continue
			}
			if d.json {
				buf = appendData(buf[:0], r.Fields)
				cmds = append(cmds, queued{i, pipe.Set(ctx, key, string(buf), d.ttl)})
				continue
			}
			cmds = append(cmds, d.hash(ctx, pipe, i, key, r.Fields)...)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	var failed map[int]string
	for _, q := range cmds {
		cerr := q.cmd.Err()
		if cerr == nil {
			continue
		}
		var rerr goredis.Error
		if !errors.As(cerr, &rerr) {
			// The connection broke or timed out: the transaction may or
			// may not have run. Rewriting the same values is harmless.
			return fmt.Errorf("redis: batch %d: %s", b.Seq, d.redactor.Error(cerr))
		}
		msg := d.redactor.String(cerr.Error())
		switch {
		case authFailure(msg):
			return &connector.RequestError{Auth: true, Message: "redis: " + msg}
		case strings.HasPrefix(msg, "EXECABORT"), strings.HasPrefix(msg, "OOM"),
			strings.HasPrefix(msg, "READONLY"), strings.HasPrefix(msg, "LOADING"),
			strings.HasPrefix(msg, "BUSY"), strings.HasPrefix(msg, "TRYAGAIN"):
			// Nothing was applied, or the server cannot take writes for
			// now: the whole batch is sent again.
			return &connector.RequestError{Retryable: true, Message: "redis: " + msg}
		}
		if failed == nil {
			failed = map[int]string{}
		}
		if _, seen := failed[q.record]; !seen {
			failed[q.record] = msg
		}
	}
	if len(failed) == 0 {
		return fmt.Errorf("redis: batch %d: %s", b.Seq, d.redactor.Error(err))
	}
	return &connector.RowErrors{Failed: failed}
}

// hash queues the commands that make key's hash hold the record's fields:
// HSET of the non-null fields, HDEL of the null ones (Redis has no null),
// and DEL when every field is null (a hash cannot be empty).
func (d *Destination) hash(ctx context.Context, pipe goredis.Pipeliner, i int, key string, fields []connector.FieldValue) []queued {
	set := make([]any, 0, 2*len(fields))
	var null []string
	for _, f := range fields {
		if f.Value == nil {
			null = append(null, f.Name)
			continue
		}
		set = append(set, f.Name, value.Text(f.Value))
	}
	if len(set) == 0 {
		return []queued{{i, pipe.Del(ctx, key)}}
	}
	out := []queued{{i, pipe.HSet(ctx, key, set...)}}
	if len(null) > 0 {
		out = append(out, queued{i, pipe.HDel(ctx, key, null...)})
	}
	if d.ttl > 0 {
		out = append(out, queued{i, pipe.Expire(ctx, key, d.ttl)})
	}
	return out
}

// appendData appends the fields as a JSON object in mapping order, with
// the values' exact canonical JSON (decimals as written).
func appendData(buf []byte, fields []connector.FieldValue) []byte {
	buf = append(buf, '{')
	for j := range fields {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = value.AppendJSONString(buf, fields[j].Name)
		buf = append(buf, ':')
		buf = value.AppendJSON(buf, fields[j].Value)
	}
	return append(buf, '}')
}
