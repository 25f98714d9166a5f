package metrics

import (
	"context"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
)

type attemptsKey struct{}

// CountRetries is a Watermill router middleware, to be added inside the
// retry middleware: it sees every attempt at a message and counts those
// after the first as retries of the handler. The handler label is the
// handler's name up to any "@" (keyward names a handler per partition
// "route@topic"; the label keeps the route).
func (m *Metrics) CountRetries(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		// The retry middleware hands the same message to every attempt:
		// the first marks its context, the later ones find the mark.
		if _, again := msg.Context().Value(attemptsKey{}).(struct{}); again {
			route, _, _ := strings.Cut(message.HandlerNameFromCtx(msg.Context()), "@")
			m.retries.WithLabelValues(route).Inc()
		} else {
			msg.SetContext(context.WithValue(msg.Context(), attemptsKey{}, struct{}{}))
		}
		return h(msg)
	}
}
