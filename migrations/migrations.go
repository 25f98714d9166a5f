// Package migrations holds keyward's versioned PostgreSQL schema as goose
// SQL files, embedded so that the binary can migrate without its sources.
package migrations

import "embed"

// FS holds the migration files, named NNNNN_description.sql, each with a
// "-- +goose Up" and a "-- +goose Down" section.
//
//go:embed *.sql
var FS embed.FS
