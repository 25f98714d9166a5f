// Command keyward runs the keyward service and its operator tools.
package main

import (
	"fmt"
	"os"

	"github.com/keyward/keyward/bootstrap"
)

const usage = `keyward — digital-key fulfilment

Usage:
  keyward serve                 run the service (config from KEYWARD_* variables)
  keyward worker                run only the workers (consumers, reconciler), ops endpoints on KEYWARD_HTTP_ADDR
  keyward openapi               print the OpenAPI document
  keyward config [--markdown]   print the effective configuration, secrets masked
  keyward migrate up|down|status
                                apply, roll back one step, or show the database schema
  keyward catalog sync [--full | --incremental]
                                sync the catalog from the supplier now (default: as the periodic sync would)
  keyward keys rotate           rotate the vault key and rewrap every stored data key
  keyward keys migrate --to vault
                                move every stored data key from the local keyring to Vault transit
                                (while the shop serves on Vault with its keyring file kept; resumable)
  keyward admin create-key --role admin|support [--name NAME]
                                make an admin API key (printed once, on the last line)
  keyward admin list-keys | revoke-key ID
                                list the admin keys, or revoke one
  keyward stock import --sku SKU FILE.csv
                                add the keys of a CSV file (first column) to a product's own stock
  keyward stock rehash          move stock keys stored before keys were known by their canonical form to it,
                                withdrawing (never deleting) later copies of one key; serve and worker do it at start
  keyward audit verify [--checkpoint FILE]
                                verify the audit trail's hash chain and MACs, and that it still
                                extends the checkpoint (and the newest one under
                                KEYWARD_AUDIT_CHECKPOINT_PATH); fails at the first break
  keyward audit checkpoint --out FILE
                                write a checkpoint of the trail's head signed with the audit key
  keyward bench [--orders N] [--rate R] [--clients C] [--server URL] [--compare-memory=false] [--profile DIR]
                [--variant NAME:KEYWARD_X=V,...]
                                push orders through the HTTP API (create, IPN, delivery, reveal) and
                                print throughput, latencies, server CPU and memory, commits per order
  keyward pay --order ID [--status finished] [--server URL] [--actually-paid AMOUNT]
                                send a signed sandbox payment notification
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "worker":
		err = worker()
	case "openapi":
		err = bootstrap.WriteOpenAPI(os.Stdout)
	case "config":
		err = printConfig(os.Args[2:], os.Stdout)
	case "migrate":
		err = migrate(os.Args[2:], os.Stdout)
	case "catalog":
		err = catalog(os.Args[2:], os.Stdout)
	case "keys":
		err = keys(os.Args[2:], os.Stdout)
	case "pay":
		err = pay(os.Args[2:], os.Stdout)
	case "bench":
		err = bench(os.Args[2:], os.Stdout)
	case "admin":
		err = admin(os.Args[2:], os.Stdout)
	case "audit":
		err = audit(os.Args[2:], os.Stdout)
	case "stock":
		err = stock(os.Args[2:], os.Stdout)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyward:", bootstrap.RedactError(err, bootstrap.EnvLookup))
		os.Exit(1)
	}
}
