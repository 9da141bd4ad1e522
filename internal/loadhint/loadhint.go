// Package loadhint carries, in a request's context, how busy the caller
// is, from the service to a store that tunes its commits to it. It keeps
// that tuning out of the domain's types: the service says how many
// activations it is handling, and a store that group-commits may hold one
// back briefly while the others are still signing, so that one commit
// serves them all.
package loadhint

import "context"

type key struct{}

// WithActivations returns ctx saying that n activations are in flight,
// this one included.
func WithActivations(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, key{}, n)
}

// Activations is what WithActivations put in ctx, or 0: unknown.
func Activations(ctx context.Context) int {
	n, _ := ctx.Value(key{}).(int)
	return n
}
