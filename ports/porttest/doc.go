// Package porttest holds the contract suites of the ports: exported test
// functions that every adapter of a port runs from its own tests, so that
// all implementations of a port behave alike.
package porttest
