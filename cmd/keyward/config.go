package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/keyward/keyward/bootstrap"
)

// configCmd prints the effective configuration: every variable, its value
// with secrets masked, and whether it came from the environment or the
// default. With --markdown it prints the README's configuration table. It
// fails on values that do not parse and, after printing, on an invalid
// configuration.
type configCmd struct {
	Markdown bool `help:"Print the README's configuration table (variables, defaults, meanings) instead; reads no variable."`
}

func (configCmd) environment() string { return wholeConfig() }

func (c configCmd) Run(e *env) error {
	if c.Markdown {
		_, err := io.WriteString(e.stdout, bootstrap.ConfigMarkdown())
		return err
	}
	cfg, err := bootstrap.ParseConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tSOURCE")
	for _, s := range bootstrap.Settings(cfg, bootstrap.EnvLookup) {
		v := s.Value
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, v, s.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is not valid: %w", err)
	}
	return nil
}
