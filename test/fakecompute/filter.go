package fakecompute

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// filter is a parsed list filter: clauses that must all hold.
//
// Two syntaxes are accepted, as GCE accepts them:
//   - the regex form: `name eq "prefix-.*"`, `ne`, several clauses in
//     parentheses ANDed: `(name eq k8s-.*) (description eq k8s-node-route)`;
//     the RE2 expression must match the whole field value.
//   - the comparison form: `name = "value"`, `!=`, clauses joined with AND.
//
// A value that is a resource URL (http(s)://HOST/compute/v1/projects/...)
// compares by its path from projects/ on, whatever the host: the
// long-standing provider builds such URLs from its configured endpoint (the
// fake's own address), while selfLinks name www.googleapis.com.
//
// Anything else (OR, other operators, a bad regex) is rejected so that a
// client never gets an unfiltered list it believes filtered.
type filter []clause

type clause struct {
	field  []string
	negate bool
	re     *regexp.Regexp // regex form
	value  string         // comparison form, when re is nil
	byPath bool           // compare resource URLs from "projects/" on
}

func (f filter) match(fields map[string]any) bool {
	for _, c := range f {
		if c.match(fields) == c.negate {
			return false
		}
	}
	return true
}

func (c clause) match(fields map[string]any) bool {
	for _, v := range lookup(fields, c.field) {
		if c.byPath {
			v = resourcePath(v)
		}
		if c.re != nil && c.re.MatchString(v) || c.re == nil && v == c.value {
			return true
		}
	}
	return false
}

// lookup returns the string forms of the value at a dotted path; arrays on
// the way fan out, so a clause matches when any element matches. A missing
// field reads as the empty string.
func lookup(v any, path []string) []string {
	if len(path) == 0 {
		switch x := v.(type) {
		case nil:
			return []string{""}
		case string:
			return []string{x}
		case bool:
			return []string{strconv.FormatBool(x)}
		case float64:
			return []string{strconv.FormatFloat(x, 'f', -1, 64)}
		case []any:
			var out []string
			for _, e := range x {
				out = append(out, lookup(e, nil)...)
			}
			return out
		default:
			return nil
		}
	}
	switch x := v.(type) {
	case map[string]any:
		return lookup(x[path[0]], path[1:])
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, lookup(e, path)...)
		}
		return out
	case nil:
		return []string{""}
	default:
		return nil
	}
}

func parseFilter(s string) (filter, error) {
	p := &filterParser{s: s}
	var f filter
	p.skipSpace()
	for !p.eof() {
		if len(f) > 0 && p.word("AND") {
			p.skipSpace()
		}
		var c clause
		var err error
		if p.peek() == '(' {
			p.pos++
			p.skipSpace()
			c, err = p.clause()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			if p.peek() != ')' {
				return nil, p.errorf("expected ')'")
			}
			p.pos++
		} else {
			c, err = p.clause()
			if err != nil {
				return nil, err
			}
		}
		f = append(f, c)
		p.skipSpace()
	}
	return f, nil
}

type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) eof() bool { return p.pos >= len(p.s) }

func (p *filterParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *filterParser) skipSpace() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// word consumes w when it stands as a whole word at the cursor.
func (p *filterParser) word(w string) bool {
	rest := p.s[p.pos:]
	if strings.HasPrefix(rest, w) && (len(rest) == len(w) || rest[len(w)] == ' ') {
		p.pos += len(w)
		return true
	}
	return false
}

func (p *filterParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid list filter expression %q at offset %d: %s", p.s, p.pos, fmt.Sprintf(format, args...))
}

func (p *filterParser) clause() (clause, error) {
	start := p.pos
	for !p.eof() && (isIdentByte(p.peek()) || p.peek() == '.') {
		p.pos++
	}
	field := p.s[start:p.pos]
	if field == "" {
		return clause{}, p.errorf("expected a field name")
	}
	p.skipSpace()
	var regexForm, negate bool
	switch {
	case p.word("eq"):
		regexForm = true
	case p.word("ne"):
		regexForm, negate = true, true
	case strings.HasPrefix(p.s[p.pos:], "!="):
		p.pos += 2
		negate = true
	case strings.HasPrefix(p.s[p.pos:], "="):
		p.pos++
	default:
		return clause{}, p.errorf("unsupported operator; use eq, ne, = or !=")
	}
	p.skipSpace()
	value, err := p.value()
	if err != nil {
		return clause{}, err
	}
	c := clause{field: strings.Split(field, "."), negate: negate, value: value}
	if (strings.HasPrefix(value, "https://") || strings.HasPrefix(value, "http://")) && strings.Contains(value, "/projects/") {
		c.byPath = true
		c.value = resourcePath(value)
		value = c.value
	}
	if regexForm {
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return clause{}, p.errorf("bad regular expression %q: %v", value, err)
		}
		c.re = re
	}
	return c, nil
}

func (p *filterParser) value() (string, error) {
	if p.peek() == '"' {
		p.pos++
		var b strings.Builder
		for !p.eof() {
			ch := p.s[p.pos]
			switch {
			case ch == '\\' && p.pos+1 < len(p.s):
				b.WriteByte(p.s[p.pos+1])
				p.pos += 2
			case ch == '"':
				p.pos++
				return b.String(), nil
			default:
				b.WriteByte(ch)
				p.pos++
			}
		}
		return "", p.errorf("unterminated string")
	}
	start := p.pos
	for !p.eof() && p.peek() != ' ' && p.peek() != ')' {
		p.pos++
	}
	if start == p.pos {
		return "", p.errorf("expected a value")
	}
	v := p.s[start:p.pos]
	if v == "OR" || v == "AND" {
		return "", p.errorf("expected a value, got %s", v)
	}
	return v, nil
}

func isIdentByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}

// resourcePath returns a resource URL from "projects/" on; other values are
// returned unchanged.
func resourcePath(v string) string {
	if i := strings.Index(v, "/projects/"); i >= 0 && (strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://")) {
		return v[i+1:]
	}
	return v
}

// checkFields refuses a clause on a field the resource type does not have,
// as GCE does: a misspelt field must not quietly match nothing.
func (f filter) checkFields(resource reflect.Type) error {
	for _, c := range f {
		if !hasJSONPath(resource, c.field) {
			return fmt.Errorf("invalid list filter expression: unknown field %q", strings.Join(c.field, "."))
		}
	}
	return nil
}

// hasJSONPath reports whether the dotted JSON path names a field of t; a map
// (such as labels) accepts any key.
func hasJSONPath(t reflect.Type, path []string) bool {
	for _, name := range path {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() == reflect.Map {
			return true
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		found := false
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
