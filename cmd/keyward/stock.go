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
  FILE.csv holds one text key per row in its first column; a header row "key" and blank rows are skipped`

// stock imports keys into a product's own stock and prints
// {"added":n,"duplicates":m}.
func stock(args []string, out io.Writer) error {
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
