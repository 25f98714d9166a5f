package bootstrap_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/s3/s3test"
	"github.com/keyward/keyward/bootstrap"
)

// withS3 keeps the ciphertext in the fake S3's bucket.
func withS3(srv *s3test.Server) func(*bootstrap.Config) {
	return func(c *bootstrap.Config) {
		c.Blobs = bootstrap.BlobConfig{
			BlobStore: "s3", S3Endpoint: srv.URL, S3Region: s3test.Region, S3Bucket: srv.Bucket,
			S3AccessKeyID: s3test.AccessKeyID, S3SecretAccessKey: s3test.SecretAccessKey, S3PathStyle: true,
		}
	}
}

// TestEndToEndS3Blobs walks an order to a reveal on Postgres with the
// ciphertext in an S3 bucket: one object per key, opaque bytes that hold no
// key the supplier issued, nothing in the Postgres blobs table; a revoke
// deletes the objects.
func TestEndToEndS3Blobs(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	srv := s3test.StartHTTP(t)
	h := start(t, func(c *bootstrap.Config) { withPostgres(url)(c); withS3(srv)(c) })

	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code != 200 || !strings.Contains(string(raw), `"name":"blobs","status":"ok"`) {
		t.Fatalf("readyz does not report the bucket ready: %d %s", code, raw)
	}

	orderID, _ := walkFlow(t, h)
	prefix := "orders/" + orderID + "/"
	objs := srv.Objects(t, prefix)
	if len(objs) != 3 { // walkFlow buys two text keys and one image key
		t.Fatalf("%d objects under %s, want 3", len(objs), prefix)
	}
	for _, o := range objs {
		itemID, slotText, _ := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
		slot, err := strconv.Atoi(slotText)
		issued := h.supplier.IssuedKeys(itemID)
		if err != nil || slot >= len(issued) {
			t.Fatalf("object %s is not a slot of an item the supplier issued %d keys for", o.Key, len(issued))
		}
		if o.ContentType != "application/octet-stream" {
			t.Errorf("object %s has content type %q", o.Key, o.ContentType)
		}
		plain := issued[slot].Data
		for name, enc := range map[string][]byte{
			"raw": plain, "hex": []byte(hex.EncodeToString(plain)), "base64": []byte(base64.StdEncoding.EncodeToString(plain)),
		} {
			if bytes.Contains(o.Data, enc) {
				t.Errorf("object %s holds the plaintext key (%s)", o.Key, name)
			}
		}
		if len(o.Data) < len(plain)+28 { // GCM nonce and tag around the ciphertext
			t.Errorf("object %s is %d bytes for a %d-byte key: not sealed", o.Key, len(o.Data), len(plain))
		}
	}
	var inPostgres int
	if err := db.Get(&inPostgres, `SELECT count(*) FROM blobs`); err != nil || inPostgres != 0 {
		t.Fatalf("%d blobs in Postgres (%v), want none: the s3 store must win", inPostgres, err)
	}

	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	if code, _, raw := h.do("POST", "/v1/admin/orders/"+orderID+"/revoke", map[string]any{"reason": "chargeback"}, admin, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, raw)
	}
	if left := srv.Objects(t, prefix); len(left) != 0 {
		t.Fatalf("%d objects survived the revoke", len(left))
	}
}

// TestReadyzReportsAMissingBucket: a bucket that does not answer makes
// keyward not ready, naming the component.
func TestReadyzReportsAMissingBucket(t *testing.T) {
	t.Parallel()
	srv := s3test.StartHTTP(t)
	h := start(t, func(c *bootstrap.Config) {
		withS3(srv)(c)
		c.Blobs.S3Bucket = "no-such-bucket"
	})
	code, _, raw := h.do("GET", "/readyz", nil, nil, nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(raw), `"name":"blobs","status":"down"`) {
		t.Fatalf("readyz: %d %s", code, raw)
	}
}

// TestBucketDownIsRetryable: with the bucket unreachable, a reveal and a
// revoke answer 503 (try again), never 500 or "keys gone".
func TestBucketDownIsRetryable(t *testing.T) {
	t.Parallel()
	srv := s3test.StartHTTP(t)
	h := start(t, withS3(srv))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "bucket-down@example.com"
	o := h.deliveredOrder(email, line(sku, 1))
	token := h.deliveryToken(email)
	srv.Close()
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("reveal with the bucket down: %d %s", code, raw)
	}
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/revoke", map[string]any{"reason": "chargeback"}, admin, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("revoke with the bucket down: %d %s", code, raw)
	}
}
