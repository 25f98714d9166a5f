package main

import (
	"fmt"

	"github.com/keyward/keyward/bootstrap"
)

// openapiCmd prints the OpenAPI document. It reads the configuration that
// changes the document, so that it prints what GET /openapi.json of a
// server with the same configuration answers, byte for byte.
type openapiCmd struct{}

func (openapiCmd) environment() string {
	return someConfig("KEYWARD_HTTP_ADDR", "KEYWARD_PUBLIC_BASE_URL", "KEYWARD_PAYMENTS") +
		"  (the other variables are parsed, not checked: the document needs no database, vault or network)\n"
}

func (openapiCmd) Run(e *env) error {
	cfg, err := bootstrap.ParseConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.WriteOpenAPI(e.stdout, cfg)
}
