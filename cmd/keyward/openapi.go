package main

import (
	"encoding/json"
	"io"
	"log/slog"

	khttp "github.com/keyward/keyward/adapters/http"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
)

// printOpenAPI writes the API's OpenAPI 3.1 document. It needs no
// configuration: operations are described, never called.
func printOpenAPI(w io.Writer) error {
	_, api := khttp.NewHandler(application.App{}, khttp.Options{Version: bootstrap.Version}, slog.New(slog.DiscardHandler))
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(api.OpenAPI())
}
