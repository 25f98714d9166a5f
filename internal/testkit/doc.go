// Package testkit holds the helpers keyward's tests share: one poll-until
// helper and one settable test clock, so every package waits and fakes time
// the same way instead of keeping its own copy. Only _test.go files and the
// contract suites in ports/porttest may import it (architecture_test.go
// keeps it so): production code never waits on a test's condition or reads
// a fake clock.
package testkit
