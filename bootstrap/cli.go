package bootstrap

import "github.com/keyward/keyward/application"

// StockKeyInput is one key of a stock import, as the command line reads
// it from a file.
type StockKeyInput = application.StockKeyInput
