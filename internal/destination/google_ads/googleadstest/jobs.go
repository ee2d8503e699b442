package googleadstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

func (s *Server) create(w http.ResponseWriter, version, customer string, body []byte) {
	var in struct {
		Job struct {
			Type     string `json:"type"`
			Metadata struct {
				UserList string `json:"userList"`
			} `json:"customerMatchUserListMetadata"`
		} `json:"job"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Invalid JSON payload received. "+err.Error())
		return
	}
	if in.Job.Type != "CUSTOMER_MATCH_USER_LIST" {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": "INVALID_JOB_TYPE"}, Message: "The emulator supports CUSTOMER_MATCH_USER_LIST jobs only."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if info, ok := s.listInfo[in.Job.Metadata.UserList]; !ok || info.Type != "CRM_BASED" || !strings.HasPrefix(in.Job.Metadata.UserList, "customers/"+customer+"/") {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": "INVALID_USER_LIST_ID"}, Message: "The user list " + in.Job.Metadata.UserList + " is not a Customer Match list of customer " + customer + "."})
		return
	}
	s.seq++
	name := fmt.Sprintf("customers/%s/offlineUserDataJobs/%d", customer, 1000+s.seq)
	s.jobs[name] = &job{Job: Job{ResourceName: name, UserList: in.Job.Metadata.UserList, Status: "PENDING"}}
	writeJSON(w, 200, map[string]string{"resourceName": name})
}

type identifier struct {
	HashedEmail       *string `json:"hashedEmail"`
	HashedPhoneNumber *string `json:"hashedPhoneNumber"`
	AddressInfo       *struct {
		HashedFirstName string `json:"hashedFirstName"`
		HashedLastName  string `json:"hashedLastName"`
		CountryCode     string `json:"countryCode"`
		PostalCode      string `json:"postalCode"`
	} `json:"addressInfo"`
}

type userData struct {
	UserIdentifiers []identifier `json:"userIdentifiers"`
}

func ptr(i int) *int { return &i }

func opError(i int, kind string, j int, field, code, msg string) fieldError {
	path := []pathElement{{FieldName: "operations", Index: ptr(i)}, {FieldName: kind}, {FieldName: "user_identifiers", Index: ptr(j)}}
	if field != "" {
		path = append(path, pathElement{FieldName: field})
	}
	return fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": code}, Message: msg, Location: &location{FieldPathElements: path}}
}

// check validates one identifier the way Google does before hashing
// matters: digests must be SHA-256 hex, addresses complete.
func check(i int, kind string, j int, id identifier) (string, *fieldError) {
	n := 0
	var key string
	if id.HashedEmail != nil {
		n++
		if !sha256RE.MatchString(*id.HashedEmail) {
			e := opError(i, kind, j, "hashed_email", "INVALID_SHA256_FORMAT", "The SHA256 encoded value is malformed.")
			return "", &e
		}
		key = "hashedEmail:" + *id.HashedEmail
	}
	if id.HashedPhoneNumber != nil {
		n++
		if !sha256RE.MatchString(*id.HashedPhoneNumber) {
			e := opError(i, kind, j, "hashed_phone_number", "INVALID_SHA256_FORMAT", "The SHA256 encoded value is malformed.")
			return "", &e
		}
		key = "hashedPhoneNumber:" + *id.HashedPhoneNumber
	}
	if a := id.AddressInfo; a != nil {
		n++
		if !sha256RE.MatchString(a.HashedFirstName) || !sha256RE.MatchString(a.HashedLastName) || !countryRE.MatchString(a.CountryCode) || a.PostalCode == "" {
			e := opError(i, kind, j, "address_info", "INCOMPATIBLE_UPLOAD_KEY_TYPE", "Address info needs hashed first and last name, country code and postal code.")
			return "", &e
		}
		key = "addressInfo:" + a.HashedFirstName + "|" + a.HashedLastName + "|" + a.CountryCode + "|" + a.PostalCode
	}
	if n != 1 {
		e := opError(i, kind, j, "", "INVALID_USER_IDENTIFIER", "A user identifier sets exactly one identifier.")
		return "", &e
	}
	return key, nil
}

func (s *Server) addOperations(w http.ResponseWriter, version, name string, body []byte) {
	var in struct {
		EnablePartialFailure bool `json:"enablePartialFailure"`
		ValidateOnly         bool `json:"validateOnly"`
		Operations           []struct {
			Create *userData `json:"create"`
			Remove *userData `json:"remove"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Invalid JSON payload received. "+err.Error())
		return
	}
	total := 0
	for _, o := range in.Operations {
		for _, d := range []*userData{o.Create, o.Remove} {
			if d != nil {
				total += len(d.UserIdentifiers)
			}
		}
	}
	if len(in.Operations) == 0 || total > MaxIdentifiers {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": "TOO_MANY_USER_IDENTIFIERS"}, Message: fmt.Sprintf("Maximum number of user identifiers allowed per request is %d and per operation is %d.", MaxIdentifiers, MaxPerOperation)})
		return
	}
	var errs []fieldError
	var ok []op
	for i, o := range in.Operations {
		d, kind, remove := o.Create, "create", false
		if o.Remove != nil {
			d, kind, remove = o.Remove, "remove", true
		}
		if d == nil || o.Create != nil && o.Remove != nil || len(d.UserIdentifiers) == 0 || len(d.UserIdentifiers) > MaxPerOperation {
			errs = append(errs, fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": "INVALID_USER_IDENTIFIER"}, Message: "An operation sets create or remove with 1 to 20 user identifiers.", Location: &location{FieldPathElements: []pathElement{{FieldName: "operations", Index: ptr(i)}}}})
			continue
		}
		var keys []string
		var bad *fieldError
		for j, id := range d.UserIdentifiers {
			k, e := check(i, kind, j, id)
			if e != nil {
				bad = e
				break
			}
			keys = append(keys, k)
		}
		if bad != nil {
			errs = append(errs, *bad)
			continue
		}
		ok = append(ok, op{remove: remove, ids: keys})
	}
	if len(errs) > 0 && !in.EnablePartialFailure {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", errs...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, found := s.jobs[name]
	if !found {
		rpcError(w, 404, "NOT_FOUND", version, "Requested entity was not found.", fieldError{ErrorCode: map[string]string{"mutateError": "RESOURCE_NOT_FOUND"}, Message: "The job " + name + " does not exist."})
		return
	}
	if j.Status != "PENDING" {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": "INVALID_JOB_STATUS"}, Message: "Operations can only be added to a PENDING job."})
		return
	}
	if !in.ValidateOnly {
		j.ops = append(j.ops, ok...)
		j.Operations += len(ok)
	}
	out := map[string]any{}
	if len(errs) > 0 {
		out["partialFailureError"] = map[string]any{
			"code":    3,
			"message": fmt.Sprintf("Multiple errors in 'details'. First error: %s, at operations[%d]", errs[0].Message, *errs[0].Location.FieldPathElements[0].Index),
			"details": []any{failure(version, errs)},
		}
	}
	writeJSON(w, 200, out)
}

// run applies a job's operations to its user list at once; Google does
// it asynchronously, hours later at times.
func (s *Server) run(w http.ResponseWriter, version, name, customer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, found := s.jobs[name]
	if !found {
		rpcError(w, 404, "NOT_FOUND", version, "Requested entity was not found.")
		return
	}
	if j.Status != "PENDING" {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"offlineUserDataJobError": "INVALID_JOB_STATUS"}, Message: "Only a PENDING job can be run."})
		return
	}
	members := s.lists[j.UserList]
	for _, o := range j.ops {
		if o.remove {
			members = without(members, o.ids)
			continue
		}
		m := map[string]string{}
		for _, k := range o.ids {
			kind, v, _ := strings.Cut(k, ":")
			m[kind] = v
		}
		// A create sharing an identifier with a member enriches it.
		if i := find(members, o.ids); i >= 0 {
			for k, v := range m {
				members[i][k] = v
			}
		} else {
			members = append(members, m)
		}
	}
	s.lists[j.UserList] = members
	j.Status = "SUCCESS"
	j.ops = nil
	s.seq++
	writeJSON(w, 200, map[string]any{"name": fmt.Sprintf("customers/%s/operations/%d", customer, s.seq)})
}

func find(members []map[string]string, ids []string) int {
	for i, m := range members {
		for _, k := range ids {
			kind, v, _ := strings.Cut(k, ":")
			if m[kind] == v {
				return i
			}
		}
	}
	return -1
}

func without(members []map[string]string, ids []string) []map[string]string {
	out := members[:0]
	for _, m := range members {
		if find([]map[string]string{m}, ids) < 0 {
			out = append(out, m)
		}
	}
	return out
}
