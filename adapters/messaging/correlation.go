package messaging

import (
	"context"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/ports"
)

// CorrelationMetadata is the message metadata key of the correlation id.
const CorrelationMetadata = "correlation_id"

// stampCorrelation puts ctx's correlation id on msg, or a new one when the
// event comes from no request (a scheduler, the reconciler): every message
// carries one, so its handling can be followed in the logs.
func stampCorrelation(ctx context.Context, msg *message.Message) {
	id := ports.CorrelationID(ctx)
	if id == "" {
		id = watermill.NewUUID()
	}
	msg.Metadata.Set(CorrelationMetadata, id)
}

// Correlate is a router middleware that puts a message's correlation id
// back into the context its handler runs with, so the events the handler
// publishes and the lines it logs carry it on.
func Correlate(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if id := msg.Metadata.Get(CorrelationMetadata); id != "" && ports.CorrelationID(msg.Context()) != id {
			msg.SetContext(ports.WithCorrelationID(msg.Context(), id))
		}
		return h(msg)
	}
}
