package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"gopkg.in/yaml.v3"

	"github.com/riptide-data/riptide/internal/redact"
)

// Alert rules: what makes `riptide serve` send an alert about a run.
const (
	// AlertFailure fires when a run fails.
	AlertFailure = "failure"
	// AlertRowFailures fires when failed and rejected rows exceed
	// RowFailurePct of the rows sent and rejected.
	AlertRowFailures = "row_failures"
	// AlertSlow fires when a run takes longer than SlowerThan.
	AlertSlow = "slow"
	// AlertVolume fires when the rows a run read differ from the average
	// of the sync's recent finished runs by more than VolumeChangePct.
	AlertVolume = "volume"
	// AlertStreamLag fires when a stream sync's replication slot holds
	// more than StreamLagBytes of write-ahead log not yet delivered (a
	// stream that is down or behind), and again after it has caught up
	// and fallen behind once more.
	AlertStreamLag = "stream_lag"
)

// AlertRules lists the rules in documentation order.
var AlertRules = []string{AlertFailure, AlertRowFailures, AlertSlow, AlertVolume, AlertStreamLag}

// Alert target kinds.
const (
	AlertToWebhook = "webhook"
	AlertToSlack   = "slack"
)

// Alert defaults.
const (
	DefaultVolumeWindow = 10
	maxVolumeWindow     = 1000
	// defaultSlackBaseURL is the Slack destination's own default.
	defaultSlackBaseURL = "https://slack.com"
)

// Alerts are the alert rules of the project or of one sync, with where to
// send what they find.
type Alerts struct {
	// On lists the rules that fire, among AlertRules (default: failure).
	On []string
	// RowFailurePct is the row_failures threshold, in percent.
	RowFailurePct float64
	// SlowerThan is the slow threshold.
	SlowerThan time.Duration
	// VolumeChangePct is the volume threshold, in percent either way.
	VolumeChangePct float64
	// VolumeWindow is how many recent finished runs the volume rule
	// averages (default DefaultVolumeWindow).
	VolumeWindow int
	// StreamLagBytes is the stream_lag threshold.
	StreamLagBytes uint64
	To             []AlertTarget
	// Pos is where the alerts section that last set a key is written.
	Pos Pos
}

// Enabled reports whether rule is on.
func (a *Alerts) Enabled(rule string) bool {
	return a != nil && slices.Contains(a.On, rule)
}

// AlertTarget is one place alerts are delivered to.
type AlertTarget struct {
	Kind string // AlertToWebhook or AlertToSlack
	// Webhook: a JSON POST to URL, signed with SigningSecret when set.
	URL           string
	SigningSecret string
	// Slack: chat.postMessage to Channel with Token, at BaseURL.
	Token   string
	Channel string
	BaseURL string
	Pos     Pos
}

var (
	alertKeys        = []string{"on", "row_failure_pct", "slower_than", "volume_change_pct", "volume_window", "stream_lag_over", "to"}
	alertTargetKinds = []string{AlertToWebhook, AlertToSlack}
	alertWebhookKeys = []string{AlertToWebhook, "signing_secret"}
	alertSlackKeys   = []string{"token", "channel", "base_url"}
)

// keyAlerts is both the top-level key of riptide.yaml and a sync's key.
const keyAlerts = "alerts"

// alertBlock is one alerts section as written: the keys it sets, which a
// sync's section lays over the project's.
type alertBlock struct {
	set  map[string]bool
	vals Alerts
	at   node
}

// alertsState is what the loader gathers about alerts before resolving
// them once every sync is read.
type alertsState struct {
	project *alertBlock
	syncs   map[string]*alertBlock
}

func (l *loader) alertsOf() *alertsState {
	if l.alerts == nil {
		l.alerts = &alertsState{syncs: map[string]*alertBlock{}}
	}
	return l.alerts
}

// projectAlerts reads the top-level alerts section of riptide.yaml.
func (l *loader) projectAlerts(n node) {
	if n.isNull() {
		return
	}
	if b := l.alertBlock(n, keyAlerts); b != nil {
		l.alertsOf().project = b
	}
}

// syncAlerts reads a sync's alerts section.
func (l *loader) syncAlerts(sync string, n node, path string) {
	if b := l.alertBlock(n, path); b != nil {
		l.alertsOf().syncs[sync] = b
	}
}

// resolveAlerts gives the project and every sync its alert rules: a sync's
// own section overrides the project's key by key (a `to` list replaces the
// project's whole list; `on: []` turns alerts off for the sync). Rules
// that are on must have their threshold and somewhere to go.
func (l *loader) resolveAlerts(p *Project) {
	st := l.alerts
	if st == nil {
		return
	}
	var proj *Alerts
	if st.project != nil {
		a, set := merge(nil, st.project)
		if l.checkAlerts(a, set, st.project.at, keyAlerts) {
			proj = a
		}
		p.Alerts = proj
	}
	for name, s := range p.Syncs {
		own, ok := st.syncs[name]
		if !ok {
			if proj != nil && len(proj.On) > 0 {
				s.Alerts = proj
			}
			continue
		}
		a, set := merge(st.project, own)
		path := sectionSyncs.name + "." + name + "." + keyAlerts
		if l.checkAlerts(a, set, own.at, path) && len(a.On) > 0 {
			s.Alerts = a
		}
	}
}

// merge lays over's keys over base's, and says which keys either set.
func merge(base, over *alertBlock) (*Alerts, map[string]bool) {
	a := &Alerts{On: []string{AlertFailure}, VolumeWindow: DefaultVolumeWindow}
	set := map[string]bool{}
	for _, b := range []*alertBlock{base, over} {
		if b == nil {
			continue
		}
		a.Pos = b.at.pos()
		for k := range b.set {
			set[k] = true
		}
		if b.set["on"] {
			a.On = b.vals.On
		}
		if b.set["row_failure_pct"] {
			a.RowFailurePct = b.vals.RowFailurePct
		}
		if b.set["slower_than"] {
			a.SlowerThan = b.vals.SlowerThan
		}
		if b.set["volume_change_pct"] {
			a.VolumeChangePct = b.vals.VolumeChangePct
		}
		if b.set["volume_window"] {
			a.VolumeWindow = b.vals.VolumeWindow
		}
		if b.set["stream_lag_over"] {
			a.StreamLagBytes = b.vals.StreamLagBytes
		}
		if b.set["to"] {
			a.To = b.vals.To
		}
	}
	return a, set
}

// checkAlerts reports rules that are on without what they need.
func (l *loader) checkAlerts(a *Alerts, set map[string]bool, at node, path string) bool {
	ok := true
	need := map[string]string{
		AlertRowFailures: "row_failure_pct",
		AlertSlow:        "slower_than",
		AlertVolume:      "volume_change_pct",
		AlertStreamLag:   "stream_lag_over",
	}
	for _, rule := range a.On {
		if key, has := need[rule]; has && !set[key] {
			l.errorAt(at, "%s: rule %s is on but %s is not set (here or in the project's alerts)", path, rule, key)
			ok = false
		}
	}
	if len(a.On) > 0 && len(a.To) == 0 {
		l.errorAt(at, "%s: rules are on (%s) but there is nowhere to send alerts: add to: [{webhook: URL}] or [{slack: {token: …, channel: …}}]",
			path, strings.Join(a.On, ", "))
		ok = false
	}
	return ok
}

// alertBlock reads one alerts section.
func (l *loader) alertBlock(n node, path string) *alertBlock {
	pairs, ok := l.mapping(n, path)
	if !ok {
		return nil
	}
	errsBefore := len(l.errs)
	l.checkKeys(pairs, alertKeys, path)
	b := &alertBlock{set: map[string]bool{}, at: n.deref()}
	for _, p := range pairs {
		kpath := path + "." + p.key
		if p.val.isNull() && p.key != "on" && p.key != "to" {
			continue // an empty value keeps the project's or the default
		}
		b.set[p.key] = true
		switch p.key {
		case "on":
			b.vals.On = l.alertRules(p.val, kpath)
		case "row_failure_pct":
			b.vals.RowFailurePct = l.percent(p.val, kpath, 0)
		case "slower_than":
			b.vals.SlowerThan = l.positiveDuration(p.val, kpath)
		case "volume_change_pct":
			x, ok := number(p.val)
			if !ok || x <= 0 {
				l.errorAt(p.val.deref(), "%s: expected a positive number of percent (50 means half as many or half as many again), got %s", kpath, describe(p.val))
			}
			b.vals.VolumeChangePct = x
		case "volume_window":
			v := p.val.deref()
			var w int
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&w) != nil || w < 1 || w > maxVolumeWindow {
				l.errorAt(v, "%s: expected a whole number of runs from 1 to %d, got %s", kpath, maxVolumeWindow, describe(v))
			}
			b.vals.VolumeWindow = w
		case "stream_lag_over":
			v := p.val.deref()
			n, err := humanize.ParseBytes(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || n == 0 {
				l.errorAt(v, "%s: expected a size of write-ahead log such as 512MB or 2GiB, got %s", kpath, describe(v))
			}
			b.vals.StreamLagBytes = n
		case "to":
			b.vals.To = l.alertTargets(p.val, kpath)
		}
	}
	if len(l.errs) > errsBefore {
		return nil
	}
	return b
}

// alertRules reads `on`: a rule or a list of rules; an empty list (or an
// empty value) turns every rule off.
func (l *loader) alertRules(n node, path string) []string {
	if n.isNull() {
		return []string{}
	}
	list, ok := l.strList(n, path)
	if !ok {
		return nil
	}
	out := []string{}
	v := n.deref()
	for i, rule := range list {
		at := v
		if v.Kind == yaml.SequenceNode {
			at = node{v.file, v.Content[i]}
		}
		switch {
		case !slices.Contains(AlertRules, rule):
			l.errorAt(at, "%s: unknown rule %q%s", path, rule, orKnown(rule, AlertRules, "rules"))
		case slices.Contains(out, rule):
			l.errorAt(at, "%s: rule %s is listed twice", path, rule)
		default:
			out = append(out, rule)
		}
	}
	return out
}

func (l *loader) positiveDuration(n node, path string) time.Duration {
	v := n.deref()
	d, err := time.ParseDuration(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil || d <= 0 {
		l.errorAt(v, "%s: expected a positive duration such as \"30m\" or \"1h30m\", got %s", path, describe(v))
		return 0
	}
	return d
}

// alertTargets reads `to`: a list of {webhook: URL, signing_secret: …} and
// {slack: {token: …, channel: …, base_url: …}} entries.
func (l *loader) alertTargets(n node, path string) []AlertTarget {
	v := n.deref()
	if v.Kind != yaml.SequenceNode {
		l.errorAt(v, "%s: expected a list of targets such as [{webhook: URL}], got %s", path, describe(v))
		return nil
	}
	out := make([]AlertTarget, 0, len(v.Content))
	for i, c := range v.Content {
		tpath := fmt.Sprintf("%s[%d]", path, i)
		if t, ok := l.alertTarget(node{v.file, c}, tpath); ok {
			out = append(out, t)
		}
	}
	return out
}

func (l *loader) alertTarget(n node, path string) (AlertTarget, bool) {
	t := AlertTarget{Pos: n.deref().pos()}
	pairs, ok := l.mapping(n, path)
	if !ok {
		return t, false
	}
	var kinds []string
	for _, p := range pairs {
		if slices.Contains(alertTargetKinds, p.key) {
			kinds = append(kinds, p.key)
		}
	}
	if len(kinds) != 1 {
		got := "neither"
		if len(kinds) > 1 {
			got = "both"
		}
		l.errorAt(n.deref(), "%s: expected exactly one of webhook or slack, got %s", path, got)
		return t, false
	}
	t.Kind = kinds[0]
	if t.Kind == AlertToSlack {
		var settings node
		for _, p := range pairs {
			if p.key != AlertToSlack {
				l.errorAt(p.knode, "%s: unknown key %q: a slack target's settings go under slack:", path, p.key)
				return t, false
			}
			settings = p.val
		}
		return l.slackTarget(t, settings, path+".slack")
	}
	errsBefore := len(l.errs)
	l.checkKeys(pairs, alertWebhookKeys, path)
	for _, p := range pairs {
		kpath := path + "." + p.key
		switch p.key {
		case AlertToWebhook:
			t.URL = l.alertURL(p.val, kpath)
		case "signing_secret":
			if p.val.isNull() {
				continue
			}
			t.SigningSecret = l.alertSecret(p.val, kpath)
		}
	}
	return t, len(l.errs) == errsBefore
}

func (l *loader) slackTarget(t AlertTarget, n node, path string) (AlertTarget, bool) {
	pairs, ok := l.mapping(n, path)
	if !ok {
		return t, false
	}
	errsBefore := len(l.errs)
	l.checkKeys(pairs, alertSlackKeys, path)
	t.BaseURL = defaultSlackBaseURL
	for _, p := range pairs {
		kpath := path + "." + p.key
		if p.val.isNull() {
			continue
		}
		switch p.key {
		case "token":
			t.Token = l.alertSecret(p.val, kpath)
		case "channel":
			t.Channel, _ = l.str(p.val, kpath)
			if strings.TrimSpace(t.Channel) == "" {
				l.errorAt(p.val.deref(), "%s: must name a channel (an ID such as C0123456789, or #name)", kpath)
			}
		case "base_url":
			t.BaseURL = l.alertURL(p.val, kpath)
		}
	}
	if len(l.errs) == errsBefore {
		if t.Token == "" {
			l.errorAt(n.deref(), "%s: missing token (a bot token with chat:write, through ${VAR})", path)
		}
		if t.Channel == "" {
			l.errorAt(n.deref(), "%s: missing channel", path)
		}
	}
	return t, len(l.errs) == errsBefore
}

// alertURL reads an http or https URL; a password inside it is a secret.
func (l *loader) alertURL(n node, path string) string {
	s, ok := l.str(n, path)
	if !ok {
		return ""
	}
	l.addSecrets(redact.URLPassword(s))
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.errorAt(n.deref(), "%s: expected an http or https URL with a host, got %s", path, describe(n))
		return ""
	}
	return s
}

// alertSecret reads a secret: masked everywhere, and better given through
// ${VAR} than written into a file meant to be committed.
func (l *loader) alertSecret(n node, path string) string {
	s, ok := l.str(n, path)
	if !ok {
		return ""
	}
	l.addSecrets(s)
	if inline, at := l.inlineText(n, 0); inline {
		l.warnAt(at, "%s is a secret written inline; use ${VAR}", path)
	}
	return s
}
