package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
)

const stockUsage = `usage: keyward stock import --sku SKU FILE.csv
       keyward stock rehash
  import: FILE.csv holds one text key per row in its first column; a header row "key" and blank rows are skipped
  rehash: moves keys stocked before keys were known by their canonical form to it, withdrawing (never deleting)
          later copies of one key; serve and worker do it at start, this runs it ahead of them`

// stock imports keys into a product's own stock and prints
// {"added":n,"duplicates":m}, or rehashes the stock.
func stock(args []string, out io.Writer) error {
	if len(args) == 1 && args[0] == "rehash" {
		return rehash(out)
	}
	if len(args) == 0 || args[0] != "import" {
		return errors.New(stockUsage)
	}
	fs := flag.NewFlagSet("stock import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sku := fs.String("sku", "", "the product's sku")
	if err := fs.Parse(args[1:]); err != nil || *sku == "" || fs.NArg() != 1 {
		return errors.New(stockUsage)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("open keys: %w", err)
	}
	defer f.Close()
	keys, err := readStockCSV(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", fs.Arg(0), err)
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := bootstrap.ImportStock(ctx, cfg, *sku, keys)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(struct {
		Added      int `json:"added"`
		Duplicates int `json:"duplicates"`
	}{res.Added, res.Duplicates})
}

// rehash runs the stock rehash and prints what it did: how many keys it
// rehashed, and each key it withdrew, by id, never by its text.
func rehash(out io.Writer) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	res, err := bootstrap.RehashStock(ctx, cfg)
	if err != nil {
		return err
	}
	type withdrawn struct {
		SKU         string `json:"sku"`
		ID          string `json:"stock_key_id"`
		DuplicateOf string `json:"duplicate_of,omitempty"`
		Reason      string `json:"reason,omitempty"`
	}
	report := struct {
		Rehashed   int         `json:"rehashed"`
		Duplicates []withdrawn `json:"duplicates_withdrawn"`
		Refused    []withdrawn `json:"refused_withdrawn"`
	}{Rehashed: res.Rehashed, Duplicates: []withdrawn{}, Refused: []withdrawn{}}
	for _, d := range res.Duplicates {
		report.Duplicates = append(report.Duplicates, withdrawn{SKU: d.Key.SKU, ID: string(d.Key.ID), DuplicateOf: string(d.Of.ID)})
	}
	for _, k := range res.Refused {
		report.Refused = append(report.Refused, withdrawn{SKU: k.SKU, ID: string(k.ID), Reason: k.Reason})
	}
	return json.NewEncoder(out).Encode(report)
}

// readStockCSV returns the text keys of a CSV file: the first column of
// each row, skipping a "key" header and blank rows. Errors name the line,
// never a key.
func readStockCSV(r io.Reader) ([]application.StockKeyInput, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var keys []application.StockKeyInput
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: not valid CSV", line)
		}
		k := strings.TrimSpace(rec[0])
		if k == "" || line == 1 && strings.EqualFold(k, "key") {
			continue
		}
		keys = append(keys, application.StockKeyInput{ContentType: "text/plain", Data: []byte(k)})
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}
