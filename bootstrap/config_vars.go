package bootstrap

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
)

// Variable is one configuration variable as Config's struct tags declare it.
type Variable struct {
	Name     string // env
	Fallback string // fallback: read when Name is unset
	Default  string // envDefault; empty when there is none
	Doc      string // doc
	Secret   string // secret: "true" masks the value, "url" its password

	field string // the struct field, to name the variable in parse errors
	index []int  // the field's index path in Config
}

// ConfigVariables lists every variable of Config in declaration order.
// It panics if two variables share a field name, a programmer error that
// would make parse errors name the wrong variable.
func ConfigVariables() []Variable {
	var vars []Variable
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			path := append(append([]int(nil), index...), i)
			name, ok := f.Tag.Lookup("env")
			if !ok {
				if f.Type.Kind() == reflect.Struct {
					walk(f.Type, path)
				}
				continue
			}
			if seen[f.Name] {
				panic("keyward: two configuration fields are named " + f.Name)
			}
			seen[f.Name] = true
			vars = append(vars, Variable{
				Name: name, Fallback: f.Tag.Get("fallback"), Default: f.Tag.Get("envDefault"),
				Doc: f.Tag.Get("doc"), Secret: f.Tag.Get("secret"), field: f.Name, index: path,
			})
		}
	}
	walk(reflect.TypeFor[Config](), nil)
	return vars
}

// Setting is a variable with its effective value.
type Setting struct {
	Variable
	// Value is the effective value as text, masked when the variable is
	// secret; empty when unset.
	Value string
	// Source is "environment", "environment (<fallback>)", "default" or
	// "unset".
	Source string
}

// mask stands in for a secret value.
const mask = "********"

// Settings returns every variable's effective value in c, secrets masked,
// and where it came from according to lookup (the one c was loaded with).
func Settings(c Config, lookup func(string) (string, bool)) []Setting {
	vars := ConfigVariables()
	set := func(k string) bool {
		v, ok := lookup(k)
		return k != "" && ok && strings.TrimSpace(v) != ""
	}
	cv := reflect.ValueOf(c)
	out := make([]Setting, 0, len(vars))
	for _, v := range vars {
		s := Setting{Variable: v, Value: text(cv.FieldByIndex(v.index)), Source: "unset"}
		switch {
		case set(v.Name):
			s.Source = "environment"
		case set(v.Fallback):
			s.Source = "environment (" + v.Fallback + ")"
		case v.Default != "":
			s.Source = "default"
		}
		s.Value = redact(v.Secret, s.Value)
		out = append(out, s)
	}
	return out
}

// text writes a configuration value the way its variable is written.
func text(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case []byte:
		return string(x)
	case slog.Level:
		return strings.ToLower(x.String())
	}
	return fmt.Sprint(v.Interface())
}

// ConfigMarkdown returns the README's configuration table, generated from
// Config's struct tags: `keyward config --markdown` prints it and a test
// keeps README.md in step with it.
func ConfigMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range ConfigVariables() {
		def := "none"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Doc, "|", `\|`))
	}
	return b.String()
}
