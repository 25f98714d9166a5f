package messaging

import (
	"log/slog"
	"slices"
	"testing"
)

// TestUnreadTopics: of the topics it is given, UnreadTopics returns those
// holding messages the group has not acknowledged, with how many, in the
// queue's order (transaction, then offset: neither alone); not a topic
// the group has read to its end, not one whose table does not exist;
// every message of a topic no group has subscribed to (no offsets table)
// is unread, and another group's offset counts for nothing. A topic read
// to its end and one never used alone make an empty answer.
func TestUnreadTopics(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	const (
		behind   = "order.paid.p1" // the group read one of three
		readAll  = "order.paid.p2" // the group read both
		noGroup  = "order.paid.p3" // written, never subscribed to
		otherGrp = "order.paid.p4" // another group read it all
		never    = "order.paid.p5" // no table
		together = "order.paid.p6" // three messages of one transaction, the second read
		crossed  = "order.paid.p7" // a read, which the queue hands out before b
	)
	ids := map[string][]string{}
	for topic, n := range map[string]int{behind: 3, readAll: 2, noGroup: 2, otherGrp: 2} {
		ids[topic] = publishN(t, db, topic, n)
	}
	acknowledge(t, db, behind, "g", ids[behind][0])
	acknowledge(t, db, readAll, "g", ids[readAll][1])
	acknowledge(t, db, otherGrp, "h", ids[otherGrp][1])
	pub, err := NewSQLPublisher(db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	three := orderMessages(t, 3)
	if err := pub.Publish(together, three...); err != nil {
		t.Fatal(err)
	}
	acknowledge(t, db, together, "g", three[1].UUID)
	crossedMessages(t, db, crossed)
	acknowledge(t, db, crossed, "g", "a")

	unread, err := UnreadTopics(t.Context(), db, "g", []string{behind, readAll, noGroup, otherGrp, never, together, crossed})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, u := range unread {
		got[u.Topic] = u.Pending
		if u.OldestAgeSeconds < 0 {
			t.Errorf("%s: oldest unread message %f s old", u.Topic, u.OldestAgeSeconds)
		}
	}
	want := map[string]int{behind: 2, noGroup: 2, otherGrp: 2, together: 1, crossed: 1}
	if len(got) != len(want) {
		t.Errorf("unread topics %v, want %v", got, want)
	}
	for topic, n := range want {
		if got[topic] != n {
			t.Errorf("%s: %d unread, want %d (all: %v)", topic, got[topic], n, got)
		}
	}

	for _, topics := range [][]string{{readAll, never}, {never}, nil} {
		unread, err := UnreadTopics(t.Context(), db, "g", topics)
		if err != nil || len(unread) != 0 {
			t.Errorf("UnreadTopics(%v) = %v, %v; want none", topics, unread, err)
		}
	}
	if unread, err := UnreadTopics(t.Context(), db, "g", []string{noGroup}); err != nil || !slices.ContainsFunc(unread, func(l TopicLag) bool { return l.Topic == noGroup && l.Pending == 2 }) {
		t.Errorf("a topic no group subscribed to, alone: %v, %v", unread, err)
	}
}
