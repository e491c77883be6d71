package fakecompute

import (
	"regexp"
	"strings"
)

// SelfLinkPrefix starts every selfLink the fake returns, as on GCE.
const SelfLinkPrefix = "https://www.googleapis.com/compute/v1/"

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

func validName(name string) bool {
	return len(name) <= 63 && nameRE.MatchString(name)
}

// ref is a parsed resource reference: projects/P/{global|regions/R|zones/Z}/KIND/NAME.
type ref struct {
	project string
	scope   string // "global", "regions/R" or "zones/Z"
	kind    string
	name    string
}

func (r ref) path() string {
	return "projects/" + r.project + "/" + r.scope + "/" + r.kind + "/" + r.name
}

func (r ref) link() string { return SelfLinkPrefix + r.path() }

func (r ref) key() string { return r.project + "/" + r.scope + "/" + r.name }

func scopeLink(project, scope string) string {
	return SelfLinkPrefix + "projects/" + project + "/" + scope
}

// parseRef accepts the forms clients send: a full URL with any host
// (https://www.googleapis.com/compute/v1/projects/..., or the fake's own
// http://127.0.0.1:PORT/compute/v1/projects/...), a partial path starting at
// projects/, or one starting at global/, regions/ or zones/ (relative to the
// request's project), each with or without a leading slash (the
// long-standing provider sends target pool members as /zones/Z/instances/N).
// It checks the kind and returns ok=false when the reference is malformed.
// Every reference field goes through it, so all of them take the same forms.
func parseRef(s, defaultProject, kind string) (ref, bool) {
	if i := strings.Index(s, "projects/"); i >= 0 {
		s = s[i:]
	} else if p := strings.TrimPrefix(s, "/"); strings.HasPrefix(p, "global/") || strings.HasPrefix(p, "regions/") || strings.HasPrefix(p, "zones/") {
		s = "projects/" + defaultProject + "/" + p
	} else {
		return ref{}, false
	}
	parts := strings.Split(s, "/")
	var r ref
	switch {
	case len(parts) == 5 && parts[2] == "global":
		r = ref{project: parts[1], scope: "global", kind: parts[3], name: parts[4]}
	case len(parts) == 6 && (parts[2] == "regions" || parts[2] == "zones"):
		r = ref{project: parts[1], scope: parts[2] + "/" + parts[3], kind: parts[4], name: parts[5]}
	default:
		return ref{}, false
	}
	if r.kind != kind || r.name == "" || r.project == "" {
		return ref{}, false
	}
	return r, true
}

// lastSegment returns what follows the last slash: the name in a URL.
func lastSegment(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}
