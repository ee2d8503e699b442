package slacktest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// listScopes are the scopes conversations.list needs per channel type.
var listScopes = map[string]string{"public_channel": "channels:read", "private_channel": "groups:read", "mpim": "mpim:read", "im": "im:read"}

// list is conversations.list: the channels of the asked types in ID
// order, private ones only if the bot is a member, limit per page (default
// 100, at most 1000) and an opaque cursor naming the next channel's ID.
// The caller holds s.mu.
func (s *Server) list(w http.ResponseWriter, p url.Values) {
	types := []string{"public_channel"}
	if t := p.Get("types"); t != "" {
		types = strings.Split(t, ",")
	}
	var needed []string
	for _, t := range types {
		scope, ok := listScopes[strings.TrimSpace(t)]
		if !ok {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_types"})
			return
		}
		if !slices.Contains(s.scopes, scope) {
			needed = append(needed, scope)
		}
	}
	if len(needed) > 0 {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "missing_scope",
			"needed": strings.Join(needed, ","), "provided": strings.Join(s.scopes, ",")})
		return
	}
	limit := 100
	if l := p.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > 1000 {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_limit"})
			return
		}
		if n > 0 {
			limit = n
		}
	}
	after := ""
	if c := p.Get("cursor"); c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		id, ok := strings.CutPrefix(string(raw), "next:")
		if err != nil || !ok {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_cursor"})
			return
		}
		after = id
	}
	excludeArchived := p.Get("exclude_archived") == "true" || p.Get("exclude_archived") == "1"
	var ids []string
	for id := range s.channels {
		kind := "public_channel"
		if s.private[id] {
			kind = "private_channel"
		}
		if !slices.Contains(types, kind) || excludeArchived && s.archived[id] {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	start := sort.SearchStrings(ids, after)
	channels := []map[string]any{}
	next := ""
	for i := start; i < len(ids); i++ {
		if len(channels) == limit {
			next = base64.StdEncoding.EncodeToString([]byte("next:" + ids[i]))
			break
		}
		id := ids[i]
		channels = append(channels, map[string]any{
			"id": id, "name": s.channels[id], "is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
			"is_private": s.private[id], "is_archived": s.archived[id], "is_member": !s.unjoined[id],
			"is_general": s.channels[id] == "general", "created": 1700000000, "num_members": 3,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channels": channels, "response_metadata": map[string]any{"next_cursor": next}})
}
