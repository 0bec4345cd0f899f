// Package rules holds Cloud Run's request rules as pure functions that answer with gRPC statuses: resource
// names and their parsing, field validation and documented limits, update masks and the writable fields
// of a message, etags, paging, and the NOT_FOUND / INVALID_ARGUMENT wordings. It keeps no state.
package rules
