package postgres_test

import (
	"fmt"
	"io/fs"
	"slices"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/migrations"
)

// TestMigrateUpEachReportsEveryMigration: each migration is reported once,
// in order, with the number pending; the schema ends current, and a
// second run has nothing to apply or report.
func TestMigrateUpEachReportsEveryMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)
	files, _ := fs.Glob(migrations.FS, "*.sql")
	slices.Sort(files)
	var got []string
	report := func(done, total int, file string) { got = append(got, fmt.Sprintf("%d/%d %s", done, total, file)) }
	if err := postgres.MigrateUpEach(ctx, db.DB, report); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, f := range files {
		want = append(want, fmt.Sprintf("%d/%d %s", i+1, len(files), f))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("reported\n%v\nwant\n%v", got, want)
	}
	if err := postgres.CheckSchema(ctx, db.DB); err != nil {
		t.Fatalf("after MigrateUpEach: %v", err)
	}

	if err := postgres.MigrateDown(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := postgres.MigrateUpEach(ctx, db.DB, report); err != nil {
		t.Fatal(err)
	}
	if last := files[len(files)-1]; !slices.Equal(got, []string{"1/1 " + last}) {
		t.Fatalf("after rolling back one: reported %v, want 1/1 %s", got, last)
	}
	got = nil
	if err := postgres.MigrateUpEach(ctx, db.DB, report); err != nil || got != nil {
		t.Fatalf("a current schema: %v, reported %v", err, got)
	}
}
