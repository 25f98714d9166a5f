package smtp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/keyward/keyward/internal/testkit"
)

// The tests talk to a real SMTP server, emersion/go-smtp, started in
// process on a loopback port.

const (
	user     = "shop"
	password = "s3cret p@ss"
)

type tlsMode int

const (
	plain    tlsMode = iota // no TLS offered
	startTLS                // STARTTLS offered
	implicit                // TLS from the first byte (smtps)
)

// received is one message as the server got it.
type received struct {
	from, to string
	data     []byte
	tls      bool
	authUser string
}

type testServer struct {
	addr   string
	roots  *x509.CertPool
	inbox  chan received
	auths  chan string // every AUTH attempt's user name
	rcptFn func(to string) error
}

// startServer runs an SMTP server offering AUTH PLAIN (to user/password).
// With allowInsecureAuth, AUTH is offered without TLS too.
func startServer(t *testing.T, mode tlsMode, allowInsecureAuth bool) *testServer {
	t.Helper()
	cert, roots := selfSigned(t)
	ts := &testServer{roots: roots, inbox: make(chan received, 16), auths: make(chan string, 16)}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{srv: ts, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = allowInsecureAuth
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = discardLogger{}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case startTLS:
		srv.TLSConfig = tlsConfig
	case implicit:
		srv.TLSConfig = tlsConfig
		l = tls.NewListener(l, tlsConfig)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	// Serve may not have registered l yet when a test that never connects
	// ends, so l is closed here too.
	t.Cleanup(func() { _ = srv.Close(); _ = l.Close(); <-done })
	ts.addr = l.Addr().String()
	return ts
}

// next returns the next message the server accepted, or fails the test.
func (ts *testServer) next(t *testing.T) received {
	t.Helper()
	return testkit.Receive(t, ts.inbox, 10*time.Second, "a message at the server")
}

// none checks that the server accepted no (further) message; a Send has
// returned before, so anything accepted is already in the inbox.
func (ts *testServer) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-ts.inbox:
		t.Fatalf("unexpected message to %s", r.to)
	default:
	}
}

type session struct {
	srv      *testServer
	conn     *gosmtp.Conn
	from, to string
	authUser string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, pass string) error {
		s.srv.auths <- username
		if username != user || pass != password {
			return errors.New("invalid credentials")
		}
		s.authUser = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error { s.from = from; return nil }

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.srv.rcptFn != nil {
		if err := s.srv.rcptFn(to); err != nil {
			return err
		}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.inbox <- received{from: s.from, to: s.to, data: data, tls: isTLS, authUser: s.authUser}
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "keyward test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
