// Package oauth is the protocol vocabulary shared by every part of
// Gatehouse: the Audience type with its one exact comparator, grant type
// names, wire structs and the single RFC 6749 error type.
//
// It depends on the standard library only, so both the authorization server
// and the public resource-server packages can import it.
package oauth
