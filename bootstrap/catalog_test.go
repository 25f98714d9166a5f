package bootstrap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/bootstrap"
)

func TestCatalogConfig(t *testing.T) {
	t.Parallel()
	c, err := bootstrap.LoadConfig(env("KEYWARD_CATALOG_SYNC_INTERVAL", "0", "KEYWARD_PRICE_ENDING", "9.99", "KEYWARD_PRICE_FEE", "0.30"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Catalog.SyncInterval != 0 || c.Catalog.PriceEnding != "9.99" || !c.Catalog.PriceFee.Equal(decimal.RequireFromString("0.3")) {
		t.Errorf("catalog config %+v", c.Catalog)
	}
	if c, err := bootstrap.LoadConfig(env("KEYWARD_CATALOG_SYNC_INTERVAL", "15m")); err != nil || c.Catalog.SyncInterval != 15*time.Minute {
		t.Errorf("interval 15m: %v, %v", c.Catalog.SyncInterval, err)
	}
	for _, bad := range [][]string{
		{"KEYWARD_CATALOG_SYNC_INTERVAL", "-1m"},
		{"KEYWARD_CATALOG_SYNC_INTERVAL", "5s"},
		{"KEYWARD_PRICE_ENDING", "99"},
		{"KEYWARD_PRICE_FEE", "-1"},
		{"KEYWARD_PRICE_FEE", "0.001"},
	} {
		_, err := bootstrap.LoadConfig(env(bad...))
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: %v, want an error naming the variable", bad[0], bad[1], err)
		}
	}
}
