package porttest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SyncRunRepository runs the ports.SyncRunRepository contract; newRepo
// must return an empty repository for each parallel subtest.
func SyncRunRepository(t *testing.T, newRepo func(t *testing.T) ports.SyncRunRepository) {
	t.Helper()
	t.Run("save, finish and list newest first with a cursor", func(t *testing.T) {
		t.Parallel()
		testSyncRunsList(t, newRepo(t))
	})
	t.Run("last succeeded by mode", func(t *testing.T) {
		t.Parallel()
		testSyncRunsLast(t, newRepo(t))
	})
	t.Run("runs of one supplier: listed and last succeeded", func(t *testing.T) {
		t.Parallel()
		testSyncRunsOfSupplier(t, newRepo(t))
	})
}

func testSyncRunsOfSupplier(t *testing.T, repo ports.SyncRunRepository) {
	t0 := suiteT0.Truncate(time.Second)
	runs := []struct {
		id, supplier string
		at           time.Time
	}{{"r1", "", t0}, {"r2", "kinguin", t0.Add(time.Minute)}, {"r3", "codeswholesale", t0.Add(2 * time.Minute)}, {"r4", "kinguin", t0.Add(3 * time.Minute)}}
	for _, r := range runs {
		run, err := domain.StartSupplierSyncRun(r.id, r.supplier, domain.SyncFull, time.Time{}, r.at)
		if err != nil {
			t.Fatal(err)
		}
		if r.id != "r4" {
			if err := run.Finish(r.at.Add(time.Second), false, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := repo.Save(t.Context(), run); err != nil {
			t.Fatalf("Save(%s): %v", r.id, err)
		}
	}
	got, err := repo.ListOf(t.Context(), "kinguin", "", 10)
	if err != nil {
		t.Fatalf("ListOf: %v", err)
	}
	if len(got) != 2 || got[0].ID() != "r4" || got[1].ID() != "r2" || got[0].Supplier() != "kinguin" {
		t.Fatalf("ListOf(kinguin) = %d runs, want r4, r2", len(got))
	}
	if page, err := repo.ListOf(t.Context(), "kinguin", "r4", 10); err != nil || len(page) != 1 || page[0].ID() != "r2" {
		t.Fatalf("ListOf(kinguin) after r4 = %d runs, %v; want r2", len(page), err)
	}
	if all, err := repo.List(t.Context(), "", 10); err != nil || len(all) != 4 {
		t.Fatalf("List = %d runs, %v; want all 4", len(all), err)
	}
	for _, c := range []struct {
		supplier string
		unnamed  bool
		want     string
	}{{"kinguin", false, "r2"}, {"codeswholesale", true, "r3"}, {"sandbox", true, "r1"}} {
		r, err := repo.LastSucceededOf(t.Context(), c.supplier, c.unnamed, domain.SyncFull)
		if err != nil || r.ID() != c.want {
			t.Errorf("LastSucceededOf(%s, %v) = %v, %v; want %s", c.supplier, c.unnamed, r, err, c.want)
		}
	}
	if _, err := repo.LastSucceededOf(t.Context(), "sandbox", false, domain.SyncFull); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("LastSucceededOf(sandbox, without unnamed) err = %v, want ErrNotFound", err)
	}
}

func startRun(t *testing.T, id string, mode domain.SyncMode, at time.Time) *domain.SyncRun {
	t.Helper()
	r, err := domain.StartSyncRun(id, mode, time.Time{}, at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testSyncRunsList(t *testing.T, repo ports.SyncRunRepository) {
	ctx := t.Context()
	for i, id := range []string{"run-1", "run-2", "run-3"} {
		if err := repo.Save(ctx, startRun(t, id, domain.SyncFull, suiteT0.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatalf("Save %s: %v", id, err)
		}
	}
	r, err := domain.StartSyncRun("run-2", domain.SyncIncremental, suiteT0.Add(-5*time.Minute), suiteT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r.Add(domain.SyncCounts{Seen: 10000, Created: 7, Changed: 3, Deactivated: 2})
	r.RecordError("product x has no name")
	if err := r.Finish(suiteT0.Add(time.Hour+time.Minute), false, errors.New("supplier down")); err != nil {
		t.Fatal(err)
	}
	if err := repo.Save(ctx, r); err != nil {
		t.Fatalf("Save finished run: %v", err)
	}
	all, err := repo.List(ctx, "", 10)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID())
	}
	if !slices.Equal(ids, []string{"run-3", "run-2", "run-1"}) {
		t.Fatalf("List = %v, want newest first", ids)
	}
	got := all[1].Snapshot()
	want := r.Snapshot()
	var d diffs
	d.add("status", got.Status, want.Status, got.Status == want.Status)
	d.add("counts", got.Counts, want.Counts, got.Counts == want.Counts)
	d.add("errors", got.Errors, want.Errors, slices.Equal(got.Errors, want.Errors) && got.ErrorCount == 2)
	d.time("started", got.StartedAt, want.StartedAt)
	d.time("finished", got.FinishedAt, want.FinishedAt)
	for _, line := range d {
		t.Errorf("run-2: %s", line)
	}
	page, err := repo.List(ctx, "run-3", 1)
	if err != nil || len(page) != 1 || page[0].ID() != "run-2" {
		t.Errorf("List after run-3, 1 = %v, %v; want run-2", page, err)
	}
	if page, err := repo.List(ctx, "run-1", 5); err != nil || len(page) != 0 {
		t.Errorf("List after the oldest = %d runs, %v", len(page), err)
	}
}

func testSyncRunsLast(t *testing.T, repo ports.SyncRunRepository) {
	ctx := t.Context()
	_, err := repo.LastSucceeded(ctx, domain.SyncFull)
	wantIs(t, err, domain.ErrNotFound, "LastSucceeded with no run")
	finish := func(r *domain.SyncRun, err error) {
		if ferr := r.Finish(r.StartedAt().Add(time.Minute), false, err); ferr != nil {
			t.Fatal(ferr)
		}
		if err := repo.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	finish(startRun(t, "a", domain.SyncFull, suiteT0), nil)
	finish(startRun(t, "b", domain.SyncFull, suiteT0.Add(time.Hour)), errors.New("boom"))
	finish(startRun(t, "c", domain.SyncIncremental, suiteT0.Add(2*time.Hour)), nil)
	if err := repo.Save(ctx, startRun(t, "d", domain.SyncFull, suiteT0.Add(3*time.Hour))); err != nil { // still running
		t.Fatal(err)
	}
	if r, err := repo.LastSucceeded(ctx, domain.SyncFull); err != nil || r.ID() != "a" {
		t.Errorf("LastSucceeded(full) = %v, %v; want a (b failed, d runs)", r, err)
	}
	if r, err := repo.LastSucceeded(ctx, domain.SyncIncremental); err != nil || r.ID() != "c" {
		t.Errorf("LastSucceeded(incremental) = %v, %v; want c", r, err)
	}
}

// PricingRules runs the ports.PricingRules contract.
func PricingRules(t *testing.T, newRepo func(t *testing.T) ports.PricingRules) {
	t.Helper()
	t.Run("set, replace, list and delete", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		ctx := t.Context()
		rule := func(scope domain.MarginScope, key, m string) domain.MarginRule {
			r, err := domain.NewMarginRule(scope, key, decimal.RequireFromString(m))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		for _, r := range []domain.MarginRule{
			rule(domain.MarginForProduct, "sku-b", "0.05"),
			rule(domain.MarginForPlatform, "Steam", "0.2"),
			rule(domain.MarginForProduct, "sku-a", "0.1234"),
			rule(domain.MarginForProduct, "sku-b", "0.07"), // replaces
		} {
			if err := repo.Set(ctx, r); err != nil {
				t.Fatalf("Set: %v", err)
			}
		}
		if err := repo.Delete(ctx, domain.MarginForPlatform, "nope"); err != nil {
			t.Fatalf("Delete of a missing rule: %v", err)
		}
		got, err := repo.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var lines []string
		for _, r := range got {
			lines = append(lines, r.Scope().String()+" "+r.Key()+" "+r.Margin().String())
		}
		want := []string{"platform steam 0.2", "product sku-a 0.1234", "product sku-b 0.07"}
		if !slices.Equal(lines, want) {
			t.Fatalf("List = %q, want %q", lines, want)
		}
		if err := repo.Delete(ctx, domain.MarginForProduct, "sku-a"); err != nil {
			t.Fatal(err)
		}
		if got, _ := repo.List(ctx); len(got) != 2 {
			t.Errorf("after Delete: %d rules, want 2", len(got))
		}
	})
}
