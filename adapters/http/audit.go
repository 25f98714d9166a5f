package http

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/domain"
)

// AuditRecordBody is one audit log record.
type AuditRecordBody struct {
	Seq      int64             `json:"seq"`
	At       time.Time         `json:"at"`
	Actor    string            `json:"actor" example:"admin:1a2b3c4d"`
	Action   string            `json:"action" example:"keys.rotated"`
	Subject  string            `json:"subject"`
	Details  map[string]string `json:"details,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

func auditBody(r domain.AuditRecord) AuditRecordBody {
	return AuditRecordBody{Seq: r.Seq, At: r.At.UTC(), Actor: r.Actor, Action: r.Action, Subject: r.Subject, Details: r.Details, PrevHash: r.PrevHash, Hash: r.Hash}
}

type auditListInput struct {
	After int64 `query:"after" minimum:"0" doc:"Return records after this seq"`
	Limit int   `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type auditListOutput struct {
	Body struct {
		Items     []AuditRecordBody `json:"items"`
		NextAfter *int64            `json:"next_after" doc:"Pass as after for the next page; null at the end"`
	}
}

type auditVerifyOutput struct {
	Body struct {
		Valid    bool   `json:"valid"`
		Verified int    `json:"verified" doc:"Records whose chain checked out"`
		BrokenAt *int64 `json:"broken_at,omitempty" doc:"Seq of the first record that does not verify"`
		Reason   string `json:"reason,omitempty"`
	}
}

type auditExportInput struct {
	Format string `query:"format" enum:"jsonl,csv" default:"jsonl"`
}

func (s *Server) registerAudit(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-audit", Method: http.MethodGet, Path: "/v1/admin/audit",
		Summary: "List audit records", Tags: []string{"Admin"}, Security: adminSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *auditListInput) (*auditListOutput, error) {
		page, err := s.app.Queries.AuditTrail.Page(ctx, in.After, in.Limit)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &auditListOutput{}
		out.Body.Items = make([]AuditRecordBody, 0, len(page))
		for _, r := range page {
			out.Body.Items = append(out.Body.Items, auditBody(r))
		}
		if len(page) == in.Limit {
			next := page[len(page)-1].Seq
			out.Body.NextAfter = &next
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-verify-audit", Method: http.MethodGet, Path: "/v1/admin/audit/verify",
		Summary: "Verify the audit hash chain", Tags: []string{"Admin"}, Security: adminSecurity, Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, _ *struct{}) (*auditVerifyOutput, error) {
		n, err := s.app.Queries.AuditTrail.Verify(ctx)
		out := &auditVerifyOutput{}
		out.Body.Verified, out.Body.Valid = n, err == nil
		var broken *domain.AuditChainError
		switch {
		case errors.As(err, &broken):
			out.Body.BrokenAt, out.Body.Reason = &broken.Seq, broken.Reason
		case err != nil:
			return nil, problem(s.log, err)
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-export-audit", Method: http.MethodGet, Path: "/v1/admin/audit/export",
		Summary: "Export the audit log", Description: "Streams every record as JSON lines or CSV (details as a JSON object).",
		Tags: []string{"Admin"}, Security: adminSecurity, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *auditExportInput) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			if in.Format == "csv" {
				hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
			} else {
				hc.SetHeader("Content-Type", "application/jsonl")
			}
			hc.SetHeader("Content-Disposition", `attachment; filename="keyward-audit.`+in.Format+`"`)
			if err := s.exportAudit(ctx, hc, in.Format); err != nil {
				s.log.Error("audit export stopped", "err", err)
			}
		}}, nil
	})
}

func (s *Server) exportAudit(ctx context.Context, hc huma.Context, format string) error {
	w := hc.BodyWriter()
	if format == "csv" {
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash"})
		err := s.app.Queries.AuditTrail.Each(ctx, func(r domain.AuditRecord) error {
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
	return s.app.Queries.AuditTrail.Each(ctx, func(r domain.AuditRecord) error { return enc.Encode(auditBody(r)) })
}
