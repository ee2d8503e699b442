package googleads

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

// userIdentifier is one UserIdentifier: exactly one of its fields is set.
type userIdentifier struct {
	HashedEmail       string       `json:"hashedEmail,omitempty"`
	HashedPhoneNumber string       `json:"hashedPhoneNumber,omitempty"`
	AddressInfo       *addressInfo `json:"addressInfo,omitempty"`
}

type addressInfo struct {
	HashedFirstName string `json:"hashedFirstName"`
	HashedLastName  string `json:"hashedLastName"`
	CountryCode     string `json:"countryCode"`
	PostalCode      string `json:"postalCode"`
}

type userData struct {
	UserIdentifiers []userIdentifier `json:"userIdentifiers"`
}

// operation is one OfflineUserDataJobOperation: create adds the user to
// the list, remove takes them out.
type operation struct {
	Create *userData `json:"create,omitempty"`
	Remove *userData `json:"remove,omitempty"`
}

// Write sends a batch as one offline user data job: create, one
// addOperations call with partial failure enabled, run. It returns
// *connector.RowErrors for rows with no usable identifier and for the
// operations Google's partialFailureError names, and the
// *connector.RequestError of a call refused as a whole. Adding a member
// twice and removing a non-member change nothing, so a retried batch
// (a new job) does no harm; a job left unrun by a failed call is never
// applied.
func (d *Destination) Write(ctx context.Context, b *connector.Batch) error {
	failed := map[int]string{}
	var ops []operation
	var idx []int
	for i := range b.Records {
		r := &b.Records[i]
		switch r.Op {
		case connector.OpUpsert, connector.OpUpdate:
			ids, msg := d.identifiers(r)
			if msg != "" {
				failed[i] = msg
				continue
			}
			ops = append(ops, operation{Create: &userData{UserIdentifiers: ids}})
			idx = append(idx, i)
		case connector.OpDelete:
			id, msg := d.removal(r.Key)
			if msg != "" {
				failed[i] = msg
				continue
			}
			ops = append(ops, operation{Remove: &userData{UserIdentifiers: []userIdentifier{id}}})
			idx = append(idx, i)
		default:
			failed[i] = fmt.Sprintf("operation %q is not supported by google_ads", r.Op)
		}
	}
	if len(ops) > 0 {
		job, err := d.createJob(ctx)
		if err != nil {
			return err
		}
		refused, err := d.addOperations(ctx, job, ops)
		if err != nil {
			return err
		}
		for j, msg := range refused {
			if j >= 0 && j < len(idx) {
				failed[idx[j]] = msg
			}
		}
		// A job whose every operation was refused has nothing to apply.
		if len(refused) < len(ops) {
			if err := d.runJob(ctx, job); err != nil {
				return err
			}
		}
	}
	if len(failed) > 0 {
		return &connector.RowErrors{Failed: failed}
	}
	return nil
}

// identifiers builds an added row's user identifiers from its mapped
// fields, and says why when none is usable.
func (d *Destination) identifiers(r *connector.Record) ([]userIdentifier, string) {
	get := func(name string) string {
		if len(d.fields) > 0 && !slices.Contains(d.fields, name) {
			return ""
		}
		v, ok := r.Field(name)
		if !ok || v == nil {
			return ""
		}
		return strings.TrimSpace(value.Text(v))
	}
	var ids []userIdentifier
	var problems []string
	if raw := get(FieldEmail); raw != "" {
		if h, why := hashedEmail(raw); h != "" {
			ids = append(ids, userIdentifier{HashedEmail: h})
		} else {
			problems = append(problems, why)
		}
	}
	if raw := get(FieldHashedEmail); raw != "" {
		ids = append(ids, userIdentifier{HashedEmail: strings.ToLower(raw)})
	}
	if raw := get(FieldPhone); raw != "" {
		if h, why := hashedPhone(raw); h != "" {
			ids = append(ids, userIdentifier{HashedPhoneNumber: h})
		} else {
			problems = append(problems, why)
		}
	}
	if raw := get(FieldHashedPhone); raw != "" {
		ids = append(ids, userIdentifier{HashedPhoneNumber: strings.ToLower(raw)})
	}
	first, last, country, postal := get(FieldFirstName), get(FieldLastName), get(FieldCountryCode), get(FieldPostalCode)
	switch {
	case first != "" && last != "" && country != "" && postal != "":
		cc, why := NormalizeCountry(country)
		if cc == "" {
			problems = append(problems, why)
			break
		}
		ids = append(ids, userIdentifier{AddressInfo: &addressInfo{
			HashedFirstName: Hash(NormalizeName(first)),
			HashedLastName:  Hash(NormalizeName(last)),
			CountryCode:     cc,
			PostalCode:      postal,
		}})
	case first != "" || last != "" || country != "" || postal != "":
		problems = append(problems, "an address needs first_name, last_name, country_code and postal_code together")
	}
	if len(ids) == 0 {
		msg := "no usable identifier: need email, phone, hashed_email, hashed_phone_number or a full address"
		if len(problems) > 0 {
			msg += " (" + strings.Join(problems, "; ") + ")"
		}
		return nil, msg
	}
	return ids, ""
}

// removal is the identifier of a row gone from the model, from its
// primary key: the field the sync's identifier names.
func (d *Destination) removal(key string) (userIdentifier, string) {
	if d.removeBy == "" {
		return userIdentifier{}, "cannot remove: set identifier to the field the model's primary key holds"
	}
	key = strings.TrimSpace(key)
	switch d.removeBy {
	case FieldEmail:
		h, why := hashedEmail(key)
		if h == "" {
			return userIdentifier{}, "cannot remove: " + why
		}
		return userIdentifier{HashedEmail: h}, ""
	case FieldPhone:
		h, why := hashedPhone(key)
		if h == "" {
			return userIdentifier{}, "cannot remove: " + why
		}
		return userIdentifier{HashedPhoneNumber: h}, ""
	case FieldHashedEmail:
		return userIdentifier{HashedEmail: strings.ToLower(key)}, ""
	default:
		return userIdentifier{HashedPhoneNumber: strings.ToLower(key)}, ""
	}
}
