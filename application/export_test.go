package application

// FulfilOnly returns f without its delivery: a run leaves the order it
// completes fulfilled, for tests of fulfilment alone and of the ways a
// fulfilled order is delivered afterwards.
func FulfilOnly(f FulfilOrder) FulfilOrder {
	f.deliver = nil
	return f
}
