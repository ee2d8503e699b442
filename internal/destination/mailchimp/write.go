package mailchimp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// Write sends a batch's upserted records as one batch subscribe call and
// archives its removed records (mirror) one DELETE each, after the call.
// It returns *connector.RowErrors for the members Mailchimp refused (its
// answer names them by email address), for records lacking an email
// address and for refused archives, and the *connector.RequestError of a
// call refused as a whole. Both calls are idempotent, so a retried batch
// does no harm.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var members []json.RawMessage
	byEmail := map[string][]int{} // lowercased email → records sent
	var deletes []int
	for i := range b.Records {
		r := &b.Records[i]
		switch r.Op {
		case connector.OpUpsert, connector.OpUpdate:
			raw, email, msg := d.member(r)
			if msg != "" {
				failed[i] = msg
				continue
			}
			members = append(members, raw)
			byEmail[strings.ToLower(email)] = append(byEmail[strings.ToLower(email)], i)
		case connector.OpDelete:
			if !strings.Contains(r.Key, "@") {
				failed[i] = fmt.Sprintf("cannot archive %q: mirror deletes need the model's primary key to be the email address", r.Key)
				continue
			}
			deletes = append(deletes, i)
		default:
			failed[i] = fmt.Sprintf("operation %q is not supported by mailchimp", r.Op)
		}
	}
	if len(members) > 0 {
		ans, err := d.batchSubscribe(ctx, members)
		if err != nil {
			return err
		}
		for i, msg := range matchErrors(ans.Errors, byEmail) {
			failed[i] = msg
		}
	}
	for _, i := range deletes {
		err := d.archive(ctx, b.Records[i].Key)
		var re *connector.RequestError
		switch {
		case err == nil:
		case errors.As(err, &re) && !re.Retryable && !re.Auth:
			// One member refused; the others go on.
			failed[i] = "archive: " + re.Message
		default:
			// Auth, rate limit, outage: the whole batch is retried or the
			// run stops; repeating the subscribe call and the archives
			// already done changes nothing.
			return err
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// member encodes a record as a batch subscribe member and returns its
// email address, or says why it cannot.
func (d *Destination) member(r *connector.Record) (json.RawMessage, string, string) {
	v, ok := r.Field(FieldEmail)
	email := ""
	if ok && v != nil {
		email = strings.TrimSpace(value.Text(v))
	}
	if email == "" {
		return nil, "", "missing identifier: the record has no value for email_address"
	}
	buf := []byte(`{"email_address":`)
	buf = value.AppendJSONString(buf, email)
	if s, ok := r.Field(FieldStatus); ok && s != nil {
		status := value.Text(s)
		if !statuses[status] {
			return nil, email, fmt.Sprintf("status %q: want subscribed, unsubscribed, cleaned, pending or transactional", status)
		}
		// status sets existing members too; status_if_new only new ones.
		buf = append(buf, `,"status":`...)
		buf = value.AppendJSONString(buf, status)
	} else {
		buf = append(buf, `,"status_if_new":`...)
		buf = value.AppendJSONString(buf, d.statusIfNew)
	}
	if t, ok := r.Field(FieldTags); ok && t != nil {
		buf = append(buf, `,"tags":`...)
		buf = appendTags(buf, t)
	}
	buf = append(buf, `,"merge_fields":{`...)
	n := 0
	for _, f := range r.Fields {
		if f.Name == FieldEmail || f.Name == FieldStatus || f.Name == FieldTags {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = value.AppendJSONString(buf, f.Name)
		buf = append(buf, ':')
		buf = value.AppendJSON(buf, f.Value)
	}
	buf = append(buf, "}}"...)
	return buf, email, ""
}

// appendTags writes tags as an array of names: a JSON array is taken as
// it is, text is split at commas.
func appendTags(buf []byte, v any) []byte {
	if j, ok := v.(value.JSON); ok && strings.HasPrefix(strings.TrimSpace(string(j)), "[") {
		return append(buf, j...)
	}
	if l, ok := v.([]any); ok {
		return value.AppendJSON(buf, l)
	}
	buf = append(buf, '[')
	n := 0
	for _, t := range strings.Split(value.Text(v), ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = value.AppendJSONString(buf, t)
	}
	return append(buf, ']')
}

// matchErrors maps the member errors of a batch answer to the records by
// email address. An error naming no member that was sent fails every
// record of the call, so nothing Mailchimp refused is taken as delivered.
func matchErrors(errs []memberError, byEmail map[string][]int) map[int]string {
	if len(errs) == 0 {
		return nil
	}
	out := map[int]string{}
	var unmatched []string
	for _, e := range errs {
		idx, ok := byEmail[strings.ToLower(strings.TrimSpace(e.EmailAddress))]
		if !ok {
			unmatched = append(unmatched, e.describe())
			continue
		}
		for _, i := range idx {
			out[i] = e.describe()
		}
	}
	if len(unmatched) > 0 {
		for _, idx := range byEmail {
			for _, i := range idx {
				if _, ok := out[i]; !ok {
					out[i] = "mailchimp reported an error it did not tie to a member: " + unmatched[0]
				}
			}
		}
	}
	return out
}
