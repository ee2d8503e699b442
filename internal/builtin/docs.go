package builtin

import (
	"fmt"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// Markdown renders a connector's reference page from its spec: the same
// spec that validates configuration, so the page cannot drift from what
// the loader accepts. kind is "source" or "destination".
func Markdown(kind, name string, spec connector.Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n\n", name, kind)
	fmt.Fprintf(&b, "<!-- Generated from the connector's spec by `go test ./internal/builtin -update`; do not edit. -->\n\n")
	fmt.Fprintf(&b, "%s.\n\n", strings.TrimSuffix(spec.Summary, "."))
	fmt.Fprintf(&b, "```yaml\n%ss:\n  my_%s:\n    type: %s\n", kind, name, name)
	for _, f := range spec.Fields {
		if f.Required {
			example := "…"
			if f.Secret {
				example = "${" + strings.ToUpper(name+"_"+f.Name) + "}"
			}
			fmt.Fprintf(&b, "    %s: %s\n", f.Name, example)
		}
	}
	fmt.Fprintf(&b, "```\n\n## Settings\n\n")
	if len(spec.Fields) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| setting | type | required | default | secret | description |\n|---|---|---|---|---|---|\n")
		for _, f := range spec.Fields {
			def := ""
			if f.Default != nil && fmt.Sprint(f.Default) != "" {
				def = fmt.Sprintf("`%v`", f.Default)
			}
			doc := f.Doc
			if len(f.Enum) > 0 {
				doc += " One of: " + strings.Join(f.Enum, ", ") + "."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Name, f.Kind, yes(f.Required), def, yes(f.Secret),
				strings.ReplaceAll(doc, "|", "\\|"))
		}
	}
	if kind == "destination" {
		l := spec.Limits
		fmt.Fprintf(&b, "\n## Delivery\n\n")
		fmt.Fprintf(&b, "- Modes: %s\n", strings.Join(spec.Modes, ", "))
		fmt.Fprintf(&b, "- Records per request: %d\n", l.BatchSize)
		if l.MaxBatchBytes > 0 {
			fmt.Fprintf(&b, "- Bytes per request: %d\n", l.MaxBatchBytes)
		}
		fmt.Fprintf(&b, "- Requests in flight: %d\n", max(l.Concurrency, 1))
		if l.RequestsPerSec > 0 {
			fmt.Fprintf(&b, "- Requests per second: %g\n", l.RequestsPerSec)
		}
		for _, w := range l.Windows {
			fmt.Fprintf(&b, "- At most %d requests in any %s\n", w.Requests, w.Per)
		}
		if len(spec.Objects) > 0 {
			b.WriteString("\n## Objects\n\n| object | identifiers | default identifier | notes |\n|---|---|---|---|\n")
			for _, o := range spec.Objects {
				def := ""
				if o.DefaultIdentifier != "" {
					def = "`" + o.DefaultIdentifier + "`"
				}
				ids := make([]string, len(o.Identifiers))
				for i, id := range o.Identifiers {
					ids[i] = "`" + id + "`"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", o.Name, strings.Join(ids, ", "), def, strings.ReplaceAll(o.Doc, "|", "\\|"))
			}
		}
		if spec.Deferred {
			b.WriteString("- Records become durable when the run's output is finished (all or nothing per run).\n")
		}
	}
	fmt.Fprintf(&b, "\nMore: [the connector's README](../../internal/%s/%s/README.md).\n", kind, name)
	return b.String()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
