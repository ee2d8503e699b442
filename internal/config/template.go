package config

import (
	"text/template"
)

// TemplateFuncNames are the functions a mapping template may call. The
// config loader only checks that templates parse against these names; the
// transform package implements them and tests that it provides every one.
//
// Arguments follow the pipeline convention, the piped value last:
//
//	lower s, upper s, title s, trim s, sha256 s
//	default fallback v     {{ .plan | default "free" }}
//	replace old new s      {{ .phone | replace " " "" }}
//	join sep list          {{ .tags | join "," }}
var TemplateFuncNames = []string{"lower", "upper", "title", "trim", "default", "sha256", "replace", "join", "normalize_email", "normalize_phone"}

// parseFuncs stands in for the transform package's functions when checking
// that a template parses: text/template resolves function names at parse
// time, but only calls them when executed.
func parseFuncs() template.FuncMap {
	one := func(any) string { return "" }
	return template.FuncMap{
		"lower":           one,
		"upper":           one,
		"title":           one,
		"trim":            one,
		"sha256":          one,
		"normalize_email": one,
		"normalize_phone": one,
		"default":         func(fallback, v any) any { return nil },
		"replace":         func(old, new string, s any) string { return "" },
		"join":            func(sep string, list any) string { return "" },
	}
}

// checkTemplate parses a mapping template, returning the parser's message.
func checkTemplate(field, src string) error {
	_, err := template.New(field).Funcs(parseFuncs()).Parse(src)
	return err
}
