package postgres

import "database/sql/driver"

// TranslateForTest is translate, for the batch's tests.
func TranslateForTest(err error) error { return translate(err) }

// ReadStatementForTest reports whether the batch takes query and the
// tables it writes.
func ReadStatementForTest(query string) (batched bool, writes []string) {
	info := readStmt(query)
	return info.kind == stmtWrite, info.writes
}

// CombineForTest is the statement a batch of queries is sent as, each
// query given nargs[i] arguments.
func CombineForTest(queries []string, nargs []int) string {
	var run []batched
	for i, q := range queries {
		args := make([]driver.NamedValue, nargs[i])
		for j := range args {
			args[j] = driver.NamedValue{Ordinal: j + 1}
		}
		run = append(run, batched{info: readStmt(q), args: args, result: &batchResult{}})
	}
	q, _ := combineWrites(run)
	return q
}

// PreparedWritesPerConn is preparedWritesPerConn, for the tests.
const PreparedWritesPerConn = preparedWritesPerConn
