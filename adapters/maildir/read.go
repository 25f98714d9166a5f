package maildir

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Message is a sent email as read back from its file.
type Message struct {
	File    string // base name of the .eml file
	To      string
	Subject string // decoded
	Text    string // decoded text/plain part
	HTML    string // decoded text/html part
	Headers mail.Header
}

// ReadAll parses every .eml file in dir, in file-name (that is, send)
// order. Messages still being written are not visible. It returns an error
// when dir cannot be read or a file is not a message this package wrote.
func ReadAll(dir string) ([]Message, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".eml") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	out := make([]Message, 0, len(names))
	for _, name := range names {
		m, err := readFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("maildir: read %s: %w", name, err)
		}
		m.File = name
		out = append(out, m)
	}
	return out, nil
}

func readFile(path string) (Message, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Message{}, err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, fmt.Errorf("subject: %w", err)
	}
	m := Message{To: msg.Header.Get("To"), Subject: subject, Headers: msg.Header}

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		return Message{}, fmt.Errorf("content type %q is not multipart/alternative", msg.Header.Get("Content-Type"))
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextRawPart()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return Message{}, err
		}
		body, err := decodePart(p)
		if err != nil {
			return Message{}, err
		}
		switch t, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); t {
		case "text/plain":
			m.Text = body
		case "text/html":
			m.HTML = body
		}
	}
}

// decodePart undoes the part's transfer encoding and turns the CRLF line
// endings of the message back into the \n the text was sent with.
func decodePart(p *multipart.Part) (string, error) {
	var r io.Reader = p
	if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(p)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// ReadFile parses one .eml file this package wrote; it returns an error
// when the file cannot be read or is not such a message.
func ReadFile(path string) (Message, error) {
	m, err := readFile(path)
	if err != nil {
		return Message{}, fmt.Errorf("maildir: read %s: %w", filepath.Base(path), err)
	}
	m.File = filepath.Base(path)
	return m, nil
}
