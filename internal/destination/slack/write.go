package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write posts one batch. Without digest a batch holds one record and
// becomes one message; with digest the batch becomes one message listing
// its records. Records that cannot become a message (no text, invalid
// blocks, a removed row) fail as *connector.RowErrors and are left out; a
// message Slack refuses fails the rows it carried.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	if d.digest {
		return d.writeDigest(ctx, b)
	}
	failed := map[int]string{}
	for i := range b.Records {
		text, blocks, err := d.rowMessage(&b.Records[i])
		if err != nil {
			failed[i] = err.Error()
			continue
		}
		if err := d.post(ctx, d.body(text, blocks)); err != nil {
			if msg, ok := rowFailure(err); ok {
				failed[i] = msg
				continue
			}
			return err
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// writeDigest posts the batch as one message: a header line, then one line
// per row, "• " followed by the row's text with its line breaks folded
// into spaces so each row stays on one line.
func (d *Destination) writeDigest(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var lines []string
	var sent []int
	for i := range b.Records {
		text, _, err := d.rowMessage(&b.Records[i])
		if err != nil {
			failed[i] = err.Error()
			continue
		}
		lines = append(lines, "• "+strings.Join(strings.Fields(text), " "))
		sent = append(sent, i)
	}
	if len(sent) > 0 {
		text := DigestText(d.sync, lines)
		if n := utf8.RuneCountInString(text); n > MaxText {
			// Not retryable: the delivery layer splits the batch into
			// smaller digests until each fits.
			return &connector.RequestError{Message: fmt.Sprintf("slack: a digest of %d rows is %d characters, over Slack's %d-character message limit", len(sent), n, MaxText)}
		}
		if err := d.post(ctx, d.body(text, nil)); err != nil {
			msg, ok := rowFailure(err)
			if !ok {
				return err
			}
			for _, i := range sent {
				failed[i] = msg
			}
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// DigestText is the text of a digest message: a header naming the sync and
// the number of rows, then the rows' lines in batch order.
func DigestText(sync string, lines []string) string {
	noun := "rows"
	if len(lines) == 1 {
		noun = "row"
	}
	header := fmt.Sprintf("*%s*: %d new or changed %s", sync, len(lines), noun)
	return header + "\n" + strings.Join(lines, "\n")
}

// rowMessage is a record's message text and, if mapped, its blocks.
func (d *Destination) rowMessage(r *connector.Record) (string, json.RawMessage, error) {
	if r.Op == connector.OpDelete {
		return "", nil, fmt.Errorf("slack cannot delete a posted message for a removed row")
	}
	v, _ := r.Field(TextField)
	text := ""
	if v != nil {
		text = value.Text(v)
	}
	if strings.TrimSpace(text) == "" {
		return "", nil, fmt.Errorf("no message text: the row's %s field is empty", TextField)
	}
	if n := utf8.RuneCountInString(text); n > MaxText {
		return "", nil, fmt.Errorf("message text is %d characters, over Slack's %d-character limit", n, MaxText)
	}
	bv, ok := r.Field(BlocksField)
	if !ok || bv == nil {
		return text, nil, nil
	}
	blocks := json.RawMessage(value.Text(bv))
	var list []json.RawMessage
	if err := json.Unmarshal(blocks, &list); err != nil {
		return "", nil, fmt.Errorf("%s must be a JSON array of Block Kit blocks: %v", BlocksField, err)
	}
	return text, blocks, nil
}

// body is the JSON body of one chat.postMessage call.
func (d *Destination) body(text string, blocks json.RawMessage) []byte {
	buf := make([]byte, 0, len(text)+len(blocks)+64)
	buf = append(buf, `{"channel":`...)
	buf = value.AppendJSONString(buf, d.channel)
	buf = append(buf, `,"text":`...)
	buf = value.AppendJSONString(buf, text)
	if blocks != nil {
		buf = append(buf, `,"blocks":`...)
		buf = append(buf, blocks...)
	}
	return append(buf, '}')
}

// rowFailure reports whether err is Slack refusing one message (an error
// code that is neither auth, rate limit nor a server fault): the rows of
// that message fail, the run goes on.
func rowFailure(err error) (string, bool) {
	var se *slackError
	if errors.As(err, &se) {
		return se.Error(), true
	}
	return "", false
}
