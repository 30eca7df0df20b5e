// Package stack holds nixlab's typed stack configuration (loading, defaults
// and validation with errors that name the key and the fix) and the program
// that wires the components into one Pulumi graph: Deploy for Go callers and
// Automation API embeddings, Program for `pulumi up`.
package stack
