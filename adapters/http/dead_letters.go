package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/ports"
)

// DeadLetterBody is a message the pipeline gave up on, without its
// payload.
type DeadLetterBody struct {
	ID         string     `json:"id" example:"0193a5e1-2b3c-7d4e-9f50-6a7b8c9d0e1f" doc:"The dead letter's id"`
	Topic      string     `json:"topic" example:"order.paid" doc:"The event topic the message was on (an event name, with .p<n> when partitioned)"`
	OrderID    string     `json:"order_id" doc:"The order the message concerns; empty when unknown"`
	Reason     string     `json:"reason" doc:"Why it was given up: the failure's class (transient, permanent, needs_review) and the last error"`
	Attempts   int        `json:"attempts" example:"5" doc:"Deliveries tried before giving up"`
	CreatedAt  time.Time  `json:"created_at" doc:"When it was given up (RFC 3339, UTC)"`
	ReplayedAt *time.Time `json:"replayed_at,omitempty" doc:"When it was first replayed; absent until then"`
}

func deadLetterBody(l ports.DeadLetter) DeadLetterBody {
	return DeadLetterBody{ID: l.ID, Topic: l.Topic, OrderID: l.OrderID, Reason: l.Reason, Attempts: l.Attempts,
		CreatedAt: l.CreatedAt.UTC(), ReplayedAt: l.ReplayedAt}
}

type listDeadLettersInput struct {
	Topic   string `query:"topic" maxLength:"200" doc:"Only letters of this topic"`
	OrderID string `query:"order_id" maxLength:"64" doc:"Only letters of this order"`
	Cursor  string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit   int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Letters per page"`
}

type listDeadLettersOutput struct {
	Body struct {
		Items      []DeadLetterBody `json:"items" doc:"Oldest first"`
		NextCursor *string          `json:"next_cursor" doc:"Pass as cursor for the next page; null at the end"`
	}
}

type deadLetterInput struct {
	ID string `path:"id" maxLength:"64" doc:"The dead letter's id"`
}

type replayDeadLetterOutput struct {
	Body struct {
		DeadLetterBody
		Requeued bool `json:"requeued" doc:"true when this call handed the message back; false when it was replayed before (nothing is done twice)"`
	}
}

// registerDeadLetters adds the dead-letter operations: support reads them,
// an admin replays or discards them; both are audited.
func (s *Server) registerDeadLetters(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-dead-letters", Method: http.MethodGet, Path: "/v1/admin/dead-letters",
		Summary: "List dead letters", Description: "Messages the pipeline gave up on, oldest first, filtered by topic and order, a page at a time.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listDeadLettersInput) (*listDeadLettersOutput, error) {
		page, err := s.app.Queries.DeadLetters.Handle(ctx, ports.DeadLetterQuery{Topic: in.Topic, OrderID: in.OrderID, After: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &listDeadLettersOutput{}
		out.Body.Items = make([]DeadLetterBody, 0, len(page.Items))
		for _, l := range page.Items {
			out.Body.Items = append(out.Body.Items, deadLetterBody(l))
		}
		if page.Next != "" {
			out.Body.NextCursor = &page.Next
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-replay-dead-letter", Method: http.MethodPost, Path: "/v1/admin/dead-letters/{id}/replay",
		DefaultStatus: http.StatusAccepted, Summary: "Replay a dead letter",
		Description: "Hands the message back to its topic once; replaying again does nothing more, and the handlers are idempotent, so an order is fulfilled once.",
		Tags:        []string{"Admin"}, Security: adminSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *deadLetterInput) (*replayDeadLetterOutput, error) {
		l, requeued, err := s.app.Commands.ReplayDeadLetter.Handle(ctx, in.ID, actorFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &replayDeadLetterOutput{}
		out.Body.DeadLetterBody, out.Body.Requeued = deadLetterBody(l), requeued
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-discard-dead-letter", Method: http.MethodDelete, Path: "/v1/admin/dead-letters/{id}",
		DefaultStatus: http.StatusNoContent, Summary: "Discard a dead letter",
		Tags: []string{"Admin"}, Security: adminSecurity, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *deadLetterInput) (*struct{}, error) {
		if err := s.app.Commands.DiscardDeadLetter.Handle(ctx, in.ID, actorFrom(ctx)); err != nil {
			return nil, problem(s.log, err)
		}
		return nil, nil
	})
}
