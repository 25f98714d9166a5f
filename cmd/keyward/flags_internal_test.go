package main

import (
	"io"
	"slices"
	"testing"
)

// TestFlagsOperatorsScriptsUse: the flag spellings of the flag-package
// CLI this one replaced still parse to the same values (scripts/bench.sh
// and BENCHMARKS.md use --compare-memory=false).
func TestFlagsOperatorsScriptsUse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args  []string
		check func(c *cli) bool
	}{
		{[]string{"bench", "--orders", "150", "--rate", "10", "--compare-memory=false", "--variant", "a:KEYWARD_X=1,KEYWARD_Y=2", "--variant", "b:KEYWARD_Z=3"},
			func(c *cli) bool {
				return c.Bench.Orders == 150 && c.Bench.Rate == 10 && !c.Bench.CompareMemory &&
					slices.Equal(c.Bench.Variant, []string{"a:KEYWARD_X=1,KEYWARD_Y=2", "b:KEYWARD_Z=3"})
			}},
		{[]string{"bench"}, func(c *cli) bool { return c.Bench.Orders == 1000 && c.Bench.Clients == 16 && c.Bench.CompareMemory }},
		{[]string{"pay", "--order", "o-1", "--actually-paid", "1.5", "--status", "partially_paid"},
			func(c *cli) bool {
				return c.Pay.Order == "o-1" && c.Pay.ActuallyPaid == "1.5" && c.Pay.Status == "partially_paid" && c.Pay.Server == ""
			}},
		{[]string{"pay", "--order=o-2"}, func(c *cli) bool { return c.Pay.Order == "o-2" && c.Pay.Status == "finished" }},
		{[]string{"stock", "import", "--sku", "s", "keys.csv"}, func(c *cli) bool { return c.Stock.Import.SKU == "s" && c.Stock.Import.File == "keys.csv" }},
		{[]string{"audit", "verify", "--checkpoint", "head.json"}, func(c *cli) bool { return c.Audit.Verify.Checkpoint == "head.json" }},
		{[]string{"admin", "revoke-key", "k-1"}, func(c *cli) bool { return c.Admin.RevokeKey.ID == "k-1" }},
		{[]string{"config", "--markdown"}, func(c *cli) bool { return c.Config.Markdown }},
	} {
		var got cli
		parser, err := newParser(&env{stdout: io.Discard, stderr: io.Discard}, &got)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.Parse(c.args); err != nil || !c.check(&got) {
			t.Errorf("%q: %v, parsed %+v", c.args, err, got)
		}
	}
}
