package http

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/safecsv"
)

// AuditRecordBody is one audit log record.
type AuditRecordBody struct {
	Seq      int64             `json:"seq" example:"1042" doc:"Position in the log: 1, 2, 3… without gaps"`
	At       time.Time         `json:"at" doc:"When it was recorded (RFC 3339, UTC)"`
	Actor    string            `json:"actor" example:"admin:1a2b3c4d" doc:"Who did it: admin:<key id>, customer or system"`
	Action   string            `json:"action" example:"keys.rotated" doc:"What was done, a dotted name (keys.revealed, order.revoked…)"`
	Subject  string            `json:"subject" doc:"What it was done to, usually an order id; empty when nothing in particular"`
	Details  map[string]string `json:"details,omitempty" doc:"The action's particulars (reason, link_id, ip…); absent when none"`
	PrevHash string            `json:"prev_hash" doc:"hash of the record before (64 zeros for seq 1): lowercase hex SHA-256"`
	Hash     string            `json:"hash" doc:"Lowercase hex SHA-256 over this record and prev_hash: changing or removing a record breaks every later one"`
}

func auditBody(r domain.AuditRecord) AuditRecordBody {
	return AuditRecordBody{Seq: r.Seq, At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Subject: r.Subject, Details: r.Details, PrevHash: r.PrevHash, Hash: r.Hash}
}

// auditFilter is the filter of the audit list's and export's parameters
// (Huma reads parameters from named fields only, so both inputs repeat
// them).
func auditFilter(from, to time.Time, typ, orderID string) application.AuditFilter {
	return application.AuditFilter{From: from, To: to, Action: typ, OrderID: orderID}
}

type auditListInput struct {
	From    time.Time `query:"from" doc:"Only records at or after this time (RFC 3339)"`
	To      time.Time `query:"to" doc:"Only records before this time (RFC 3339)"`
	Type    string    `query:"type" maxLength:"100" pattern:"^[a-z0-9_.]*$" doc:"Only this action (keys.revealed), or a family ending in a dot (keys.)" example:"keys.revealed"`
	OrderID string    `query:"order_id" maxLength:"64" doc:"Only records about this order"`
	After   int64     `query:"after" minimum:"0" doc:"Return records after this seq"`
	Limit   int       `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Records per page (json only)"`
	Format  string    `query:"format" enum:"json,jsonl,csv" default:"json" doc:"json: one page; jsonl or csv: every matching record after after, streamed"`
}

// auditPage is the json answer of the audit list.
type auditPage struct {
	Items     []AuditRecordBody `json:"items" doc:"Records by seq, ascending"`
	NextAfter *int64            `json:"next_after" doc:"Pass as after for the next page; null at the end"`
}

type auditVerifyOutput struct {
	Body struct {
		Valid    bool   `json:"valid" doc:"true when every record's chain and MAC checked out and no staged record was quarantined"`
		Verified int    `json:"verified" doc:"Records whose chain checked out"`
		BrokenAt *int64 `json:"broken_at,omitempty" doc:"Seq of the first record that does not verify"`
		Reason   string `json:"reason,omitempty" doc:"What is wrong at broken_at; absent when valid"`
		// Quarantined staged records make the trail not valid: they were
		// written around the audit log.
		Quarantined    int     `json:"quarantined,omitempty" doc:"Staged records the sealer refused, kept in audit_quarantine"`
		QuarantinedIDs []int64 `json:"quarantined_pending_ids,omitempty" doc:"Pending ids of the first quarantined records"`
	}
}

type auditExportInput struct {
	From    time.Time `query:"from" doc:"Only records at or after this time (RFC 3339)"`
	To      time.Time `query:"to" doc:"Only records before this time (RFC 3339)"`
	Type    string    `query:"type" maxLength:"100" pattern:"^[a-z0-9_.]*$" doc:"Only this action (keys.revealed), or a family ending in a dot (keys.)" example:"keys.revealed"`
	OrderID string    `query:"order_id" maxLength:"64" doc:"Only records about this order"`
	Format  string    `query:"format" enum:"jsonl,csv" default:"jsonl" doc:"jsonl: one JSON record per line; csv: a header row, then one row per record"`
}

func (s *Server) registerAudit(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-audit", Method: http.MethodGet, Path: "/v1/admin/audit",
		Summary:     "List or export audit records",
		Description: "Filtered by time, action and order. format=json (the default) answers one page; jsonl and csv stream every matching record.",
		Tags:        []string{"Admin"}, Security: supportSecurity,
		Errors:    []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
		Responses: auditListResponses(api),
	}, func(ctx context.Context, in *auditListInput) (*huma.StreamResponse, error) {
		f := auditFilter(in.From, in.To, in.Type, in.OrderID)
		if err := f.Validate(); err != nil {
			return nil, problem(s.log, err)
		}
		if in.Format != "json" {
			f.AfterSeq = in.After
			return s.auditStream(ctx, f, in.Format), nil
		}
		page, err := s.app.Queries.AuditTrail.PageMatching(ctx, f, in.After, in.Limit)
		if err != nil {
			return nil, problem(s.log, err)
		}
		body := auditPage{Items: make([]AuditRecordBody, 0, len(page))}
		for _, r := range page {
			body.Items = append(body.Items, auditBody(r))
		}
		if len(page) == in.Limit {
			next := page[len(page)-1].Seq
			body.NextAfter = &next
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			hc.SetHeader("Content-Type", "application/json")
			if err := json.NewEncoder(hc.BodyWriter()).Encode(body); err != nil {
				s.log.Error("audit page not written", "err", err)
			}
		}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-verify-audit", Method: http.MethodGet, Path: "/v1/admin/audit/verify",
		Summary: "Verify the audit hash chain", Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, _ *struct{}) (*auditVerifyOutput, error) {
		n, err := s.app.Queries.AuditTrail.Verify(ctx)
		out := &auditVerifyOutput{}
		out.Body.Verified, out.Body.Valid = n, err == nil
		var broken *domain.AuditChainError
		var quarantined *domain.AuditQuarantineError
		switch {
		case errors.As(err, &broken):
			out.Body.BrokenAt, out.Body.Reason = &broken.Seq, broken.Reason
		case errors.As(err, &quarantined):
			out.Body.Quarantined, out.Body.QuarantinedIDs = quarantined.Count, quarantined.PendingIDs
			out.Body.Reason = "staged records were refused and wait in audit_quarantine"
		case err != nil:
			return nil, problem(s.log, err)
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-export-audit", Method: http.MethodGet, Path: "/v1/admin/audit/export",
		Summary: "Export the audit log", Description: "Streams every record as JSON lines or CSV (details as a JSON object).",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *auditExportInput) (*huma.StreamResponse, error) {
		f := auditFilter(in.From, in.To, in.Type, in.OrderID)
		if err := f.Validate(); err != nil {
			return nil, problem(s.log, err)
		}
		return s.auditStream(ctx, f, in.Format), nil
	})
}

// auditStream streams the records f matches as JSON lines or CSV.
func (s *Server) auditStream(ctx context.Context, f application.AuditFilter, format string) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		if format == "csv" {
			hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
		} else {
			hc.SetHeader("Content-Type", "application/jsonl")
		}
		hc.SetHeader("Content-Disposition", `attachment; filename="keyward-audit.`+format+`"`)
		if err := s.exportAudit(ctx, hc, format, f); err != nil {
			s.log.Error("audit export stopped", "err", err)
		}
	}}
}

// auditListResponses documents the three answers of the audit list.
func auditListResponses(api huma.API) map[string]*huma.Response {
	page := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[auditPage](), true, "AuditPage")
	return map[string]*huma.Response{"200": {
		Description: "A page of records (json), or every matching record (jsonl, csv)",
		Content: map[string]*huma.MediaType{
			"application/json":        {Schema: page},
			"application/jsonl":       {Schema: &huma.Schema{Type: "string"}},
			"text/csv; charset=utf-8": {Schema: &huma.Schema{Type: "string"}},
		},
	}}
}

func (s *Server) exportAudit(ctx context.Context, hc huma.Context, format string, f application.AuditFilter) error {
	w := hc.BodyWriter()
	if format == "csv" {
		cw := safecsv.NewWriter(w) // cells hold what customers and callers typed
		_ = cw.Write([]string{"seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash"})
		err := s.app.Queries.AuditTrail.EachMatching(ctx, f, func(r domain.AuditRecord) error {
			details := []byte("{}")
			if len(r.Details) > 0 {
				details, _ = json.Marshal(r.Details) // keys come out sorted
			}
			return cw.Write([]string{strconv.FormatInt(r.Seq, 10), r.At.UTC().Format(time.RFC3339Nano), r.Actor, r.Action, r.Subject, string(details), r.PrevHash, r.Hash})
		})
		cw.Flush()
		return errors.Join(err, cw.Error())
	}
	enc := json.NewEncoder(w)
	return s.app.Queries.AuditTrail.EachMatching(ctx, f, func(r domain.AuditRecord) error { return enc.Encode(auditBody(r)) })
}
