// Package ports declares the driven ports of keyward: the interfaces the
// application needs from storage, messaging, key management, suppliers,
// payment gateways and mail. Adapters implement them; every adapter of a
// port passes that port's contract suite.
package ports
