// Package messaging carries domain events over Watermill: a publisher for
// the EventPublisher port, the message format, and the router that drives
// the asynchronous pipeline with retries and a dead-letter topic.
//
// Where events travel: in process (gochannel) without a database; with
// Postgres, always first into the outbox (SQLOutbox, in the transaction
// that changes the order), from where the router consumes them directly
// (the SQL queue) or a Forwarding moves them to NATS JetStream or RabbitMQ
// and the router consumes them there. The outbox is acknowledged only once
// the broker stored a message, so a broker outage delays work and loses
// nothing; dead letters stay in Postgres whatever the broker.
//
// Every broker gives the router the same guarantees, which the contract
// suite in ports/porttest checks: a message is acknowledged after its
// handler returned (so after the handler's transaction committed); one
// not acknowledged, by a handler error or a crash, is handed out again;
// the keyward processes are one consumer group; and a topic is handled one
// message at a time, in order. Topics are partitions of an event name by
// order id (PartitionedTopic), so an order's events of one kind are never
// handled by two workers at once while different partitions proceed in
// parallel on whichever workers are free. Each broker keeps a partition to
// one message at a time in its own way:
//
//   - SQL: the subscriber locks a topic's consumer-group offset while a
//     message is handled.
//   - NATS: one stream and one durable consumer per partition, shared by
//     all workers, with MaxAckPending 1: JetStream gives the next message
//     of a partition to any worker, but only once the previous one is
//     acknowledged. Work spreads over the workers.
//   - RabbitMQ: one single-active-consumer queue per partition, prefetch
//     1: RabbitMQ delivers a queue's messages to one of the subscribed
//     workers at a time and fails over to the next when it goes. The other
//     workers stand by for that queue; a queue's active worker is the one
//     that subscribed first, so on RabbitMQ several workers give fail-over
//     more than throughput (a partition is handled at the same speed as on
//     NATS, but the partitions tend to gather on the first worker).
//
// Delivery is at least once everywhere (a crash after the handler's commit
// and before the acknowledgement hands the message out again), so the
// handlers are idempotent: the order's state, locked in its transaction,
// says what is left to do.
package messaging

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
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

// MaxPartitions is the most topics an event name is spread over.
const MaxPartitions = 32

// OtherPartitionTopics lists the topics name has under every partition
// count but partitions: where a process that ran with another count may
// have left messages.
func OtherPartitionTopics(name string, partitions int) []string {
	current := PartitionTopics(name, partitions)
	var out []string
	for _, t := range append([]string{name}, PartitionTopics(name, MaxPartitions)...) {
		if !slices.Contains(current, t) {
			out = append(out, t)
		}
	}
	return out
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
