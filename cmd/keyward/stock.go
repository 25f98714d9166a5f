package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// stockCmd runs own-stock commands.
type stockCmd struct {
	Import stockImportCmd `cmd:"" help:"Add the keys of a CSV file to a product's own stock; prints {\"added\":n,\"duplicates\":m}."`
	Rehash stockRehashCmd `cmd:"" help:"Move keys stocked before keys were known by their canonical form to it, withdrawing (never deleting) later copies of one key; serve and worker do it at start, this runs it ahead of them."`
}

type stockImportCmd struct {
	SKU  string `name:"sku" required:"" placeholder:"SKU" help:"The product's sku."`
	File string `arg:"" name:"FILE.csv" help:"One text key per row in its first column; a header row \"key\" and blank rows are skipped."`
}

func (stockImportCmd) environment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_KEY_VAULT")
}

// Run imports the keys and prints {"added":n,"duplicates":m}.
func (c stockImportCmd) Run(e *env) error {
	f, err := os.Open(c.File)
	if err != nil {
		return fmt.Errorf("open keys: %w", err)
	}
	defer f.Close()
	keys, err := readStockCSV(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.File, err)
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := newProgress(e, "keys sealed")
	res, err := bootstrap.ImportStock(ctx, cfg, c.SKU, keys, bootstrap.WithProgress(p.fn()))
	p.end()
	if err != nil {
		return err
	}
	return json.NewEncoder(e.stdout).Encode(struct {
		Added      int `json:"added"`
		Duplicates int `json:"duplicates"`
	}{res.Added, res.Duplicates})
}

type stockRehashCmd struct{}

func (stockRehashCmd) environment() string { return wholeConfig("KEYWARD_DATABASE_URL") }

func (stockRehashCmd) Run(e *env) error { return rehash(e.stdout) }

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
func readStockCSV(r io.Reader) ([]bootstrap.StockKeyInput, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var keys []bootstrap.StockKeyInput
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
		keys = append(keys, bootstrap.StockKeyInput{ContentType: "text/plain", Data: []byte(k)})
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}
