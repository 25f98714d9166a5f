package bootstrap

import (
	"path/filepath"
	"reflect"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/keyward/keyward/application"
)

// TestAppDepsCarriesEveryApplicationDep: appDeps mirrors application.Deps
// field by field, so a port added to Deps and not to appDeps (or not handed
// on by newAppDeps) would reach the use cases as nil. Every field of Deps
// has a field of its type in appDeps, and the embedded-default graph leaves
// no field of Deps zero.
func TestAppDepsCarriesEveryApplicationDep(t *testing.T) {
	t.Parallel()
	carried := map[reflect.Type]string{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[appDeps]()) {
		if !f.Anonymous && f.IsExported() {
			carried[f.Type] = f.Name
		}
	}
	deps := reflect.TypeFor[application.Deps]()
	seen := map[reflect.Type]string{}
	for i := range deps.NumField() {
		f := deps.Field(i)
		if other, ok := seen[f.Type]; ok {
			t.Errorf("application.Deps.%s and .%s are both %s: this check matches fields by type, name the types apart", other, f.Name, f.Type)
		}
		seen[f.Type] = f.Name
		if _, ok := carried[f.Type]; !ok {
			t.Errorf("application.Deps.%s (%s) has no field in bootstrap.appDeps: fx would never hand it to the application", f.Name, f.Type)
		}
	}

	dir := t.TempDir()
	cfg := Defaults()
	cfg.HTTPAddr, cfg.OpsAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, "mail"), filepath.Join(dir, "k.json")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var d application.Deps
	fxtest.New(t, Options(cfg), fx.Populate(&d))
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("application.Deps.%s is zero in the embedded-default graph: newAppDeps does not hand it on", deps.Field(i).Name)
		}
	}
}
