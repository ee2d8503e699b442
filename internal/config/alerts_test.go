package config

import "strings"

// dumpAlerts prints alert rules for the golden files; nothing when there
// are none, so that projects without alerts keep their want.txt.
func dumpAlerts(w func(int, string, ...any), indent int, a *Alerts) {
	if a == nil {
		return
	}
	w(indent, "alerts (%s): on=[%s]", a.Pos, strings.Join(a.On, " "))
	w(indent+1, "row_failure_pct=%v slower_than=%s volume_change_pct=%v volume_window=%d",
		a.RowFailurePct, a.SlowerThan, a.VolumeChangePct, a.VolumeWindow)
	for _, t := range a.To {
		switch t.Kind {
		case AlertToWebhook:
			w(indent+1, "to webhook %q signing_secret=%q (%s)", t.URL, t.SigningSecret, t.Pos)
		default:
			w(indent+1, "to slack channel=%q token=%q base_url=%q (%s)", t.Channel, t.Token, t.BaseURL, t.Pos)
		}
	}
}
