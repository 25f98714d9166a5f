// Package sqlmark marks SQL statements for keyward's Postgres driver
// layer, which sends a transaction's writes as one statement
// (adapters/postgres/batch.go). A mark is a comment: sent to Postgres
// without that layer, a marked statement is the statement it marks.
package sqlmark

import "strconv"

// ExpectRowsPrefix starts the mark of ExpectRows. It holds no colon:
// sqlx reads :name as a parameter in named queries.
const ExpectRowsPrefix = "/*keyward-rows="

// ExpectRowsFinalSuffix ends the count of ExpectRowsFinal's mark.
const ExpectRowsFinalSuffix = ",final"

// Flush is a statement of its own that sends the transaction's batched
// writes and nothing else: a barrier after which their errors are known.
// Savepoints taken before it and not sent yet are done with: the caller
// no longer rolls back to them (the queue's consume transaction, once a
// message's handling succeeded), and they are never sent.
const Flush = "/*keyward-flush*/"

// Sync is a statement of its own that sends the savepoints and writes the
// transaction has kept, and nothing else: after it, a rollback to any
// savepoint taken before it undoes what follows on the server too.
const Sync = "/*keyward-sync*/"

// SendNowPrefix is the mark of SendNow.
const SendNowPrefix = "/*keyward-now*/"

// ExpectRows marks query as changing exactly n rows: batched with the
// transaction's other writes, it fails the transaction (a conflict, run
// again by the storage layer) when it changes another number, and its
// RowsAffected reports n without the batch being sent.
func ExpectRows(n int, query string) string {
	return ExpectRowsPrefix + strconv.Itoa(n) + "*/ " + query
}

// ExpectRowsFinal is ExpectRows for a write whose other count is a final
// conflict (a row that belongs to something else), not a row changed
// since it was read: the transaction fails and is not run again.
func ExpectRowsFinal(n int, query string) string {
	return ExpectRowsPrefix + strconv.Itoa(n) + ExpectRowsFinalSuffix + "*/ " + query
}

// SendNow marks a write to be sent at once rather than batched, so that
// its own error (a foreign key violation read as a missing row, say)
// comes back from it.
func SendNow(query string) string { return SendNowPrefix + " " + query }
