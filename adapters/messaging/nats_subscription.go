package messaging

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
)

// natsSubscription hands one consumer's messages to the channel Subscribe
// returned. Its callback (handle) runs on the NATS client's goroutine,
// one message at a time; end closes the channel once no callback is
// under way, its answer given.
type natsSubscription struct {
	out     chan *message.Message
	stop    chan struct{} // closed as the subscription ends
	closing <-chan struct{}
	mu      sync.RWMutex // held for reading by a callback, for writing to close out
	ended   bool
	ackWait time.Duration
	log     *slog.Logger
}

// handle hands msg out and answers NATS as the reader answers it: Ack,
// Nack, or nothing within AckWait (NATS gives it again then). A message
// that comes as the subscription ends goes back (Nak, after
// handBackDelay), and so does one left unanswered when the adapter
// closes.
func (s *natsSubscription) handle(ctx context.Context, msg jetstream.Msg) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := natsMessage(msg)
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.SetContext(mctx)
	if !s.hand(m) {
		s.nak(msg, handBackDelay)
		return
	}
	t := time.NewTimer(s.ackWait)
	defer t.Stop()
	select {
	case <-m.Acked():
		s.ack(ctx, m, msg)
	case <-m.Nacked():
		delay := time.Duration(0)
		if ctx.Err() != nil {
			delay = handBackDelay // the reader is stopping: see handBackDelay
		}
		s.nak(msg, delay)
	case <-s.closing:
		// The adapter closes while the reader still holds the message:
		// its handling is told to stop, and given closeGrace to answer;
		// handed back while it may still commit, another process would
		// run it beside it.
		cancel()
		grace := time.NewTimer(closeGrace)
		defer grace.Stop()
		select {
		case <-m.Acked():
			s.ack(ctx, m, msg)
		case <-m.Nacked():
			s.nak(msg, handBackDelay)
		case <-grace.C:
			s.nak(msg, handBackDelay)
		}
	case <-t.C:
		s.log.Warn("NATS message not answered within the ack wait; NATS gives it again", "message_uuid", m.UUID)
	}
}

// ack acknowledges msg and waits for NATS to confirm it, in a time of its
// own: the acknowledgement must not fail with the subscription's context.
func (s *natsSubscription) ack(ctx context.Context, m *message.Message, msg jetstream.Msg) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		s.log.Warn("NATS acknowledgement failed; the message comes again after the ack wait", "message_uuid", m.UUID, "err", err)
	}
}

// nak hands msg back, to be given again at once (the reader's Nack) or
// after handBackDelay (a message the subscription gives up as it ends).
func (s *natsSubscription) nak(msg jetstream.Msg, delay time.Duration) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		s.log.Warn("NATS negative acknowledgement failed; the message comes again after the ack wait", "err", err)
	}
}

// hand gives m to the reader, or reports false once the subscription has
// ended. The caller holds mu for reading.
func (s *natsSubscription) hand(m *message.Message) bool {
	if s.ended {
		return false
	}
	select {
	case s.out <- m:
		return true
	case <-s.stop:
		return false
	}
}

// end closes the channel: stop wakes a callback waiting to hand a message
// out, the lock waits for the callback under way to give its answer (a
// reader still handling its message answers it, at most AckWait), and no
// callback hands a message out after.
func (s *natsSubscription) end() {
	close(s.stop)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	close(s.out)
}

// handBackDelay is how long NATS waits before it gives a message handed
// back (Nak) again: handed back at once, it would go to a pull request
// this subscription left behind on the server (the server keeps one until
// it expires or its connection closes) and wait out the ack wait there;
// a second later it goes to a process that is consuming.
const handBackDelay = time.Second

// closeGrace is how long a subscription waits, as the adapter closes, for
// the reader of a message it handed out to answer before handing it back.
const closeGrace = 2 * time.Second

// natsMessage is msg as a Watermill message, whatever its payload: one
// keyward cannot read still reaches the handler, which sends it to the
// dead letters.
func natsMessage(msg jetstream.Msg) *message.Message {
	m, err := wjs.DefaultUnmarshaler{}.Unmarshal(msg)
	if err != nil {
		m = message.NewMessage(watermill.NewUUID(), msg.Data())
	}
	return m
}
