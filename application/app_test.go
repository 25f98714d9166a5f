package application_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/application"
)

// TestNewAppRefusesAMissingPort: a wiring mistake stops the program when the
// application is built, naming what is missing, not at the first request.
func TestNewAppRefusesAMissingPort(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fields := reflect.TypeFor[application.Deps]()
	for i := range fields.NumField() {
		name := fields.Field(i).Name
		switch name {
		case "Health":
			continue // no readiness checks is a valid (if useless) set
		case "SupplierMonitor", "ItemsBought":
			continue // optional: GET /v1/admin/suppliers then knows less
		case "Balances":
			continue // optional: NewApp keeps a book of its own, fed by balance refusals
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("NewApp accepted a nil %s", name)
				}
				if msg := fmt.Sprint(r); !strings.Contains(strings.ToLower(msg), strings.ToLower(name)) {
					t.Fatalf("the panic does not name %s: %s", name, msg)
				}
			}()
			w.app(func(d *application.Deps, _ *application.Settings) {
				reflect.ValueOf(d).Elem().Field(i).SetZero()
			})
		})
	}
}
