// Package messaging carries domain events over Watermill: a publisher for
// the EventPublisher port, the message format, and the router that drives
// the asynchronous pipeline with retries and a dead-letter topic.
package messaging

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/domain"
)

// DeadLetterTopic receives messages whose handler kept failing.
const DeadLetterTopic = "keyward.dead_letters"

// eventBody is the wire form of an order event.
type eventBody struct {
	Event      string    `json:"event"`
	OrderID    string    `json:"order_id"`
	OccurredAt time.Time `json:"occurred_at"`
	Reason     string    `json:"reason,omitempty"`
}

// Topic returns the topic an event is published on: its name.
func Topic(ev domain.Event) string { return ev.EventName() }

// PartitionedTopic spreads an event name over partitions by order id: all
// events of one order land in the same partition (their order is kept),
// and partitions are consumed in parallel. One partition is the bare name.
func PartitionedTopic(name, orderID string, partitions int) string {
	if partitions <= 1 {
		return name
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(orderID))
	return name + ".p" + strconv.Itoa(int(h.Sum32()%uint32(partitions)))
}

// PartitionTopics lists every partition topic of name.
func PartitionTopics(name string, partitions int) []string {
	if partitions <= 1 {
		return []string{name}
	}
	out := make([]string, partitions)
	for i := range partitions {
		out[i] = name + ".p" + strconv.Itoa(i)
	}
	return out
}

// NewMessage encodes a domain event as a Watermill message.
func NewMessage(ev domain.Event) (*message.Message, error) {
	body := eventBody{Event: ev.EventName(), OrderID: ev.AggregateID(), OccurredAt: ev.OccurredAt().UTC()}
	if oe, ok := ev.(domain.OrderEvent); ok {
		body.Reason = oe.Reason
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.EventName(), err)
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.Metadata.Set("event", ev.EventName())
	msg.Metadata.Set("order_id", ev.AggregateID())
	return msg, nil
}

// ParseMessage decodes a message made by NewMessage; an error means the
// message can never be handled (it goes to the dead letters).
func ParseMessage(msg *message.Message) (domain.OrderEvent, error) {
	var b eventBody
	if err := json.Unmarshal(msg.Payload, &b); err != nil {
		return domain.OrderEvent{}, fmt.Errorf("decode event message %s: %w", msg.UUID, err)
	}
	if b.Event == "" || b.OrderID == "" {
		return domain.OrderEvent{}, fmt.Errorf("event message %s lacks event or order id", msg.UUID)
	}
	return domain.OrderEvent{Name: b.Event, OrderID: b.OrderID, At: b.OccurredAt, Reason: b.Reason}, nil
}
