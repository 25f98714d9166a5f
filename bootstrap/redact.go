package bootstrap

import (
	"encoding/json"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// Every URL-valued setting is tagged secret:"url": `keyward config` shows
// it with its userinfo masked, and configuration errors (Validate),
// start-up errors (RedactError) and log lines (NewLogger) lose, whatever
// code wrote them, the userinfo of any URL they show, a DSN's password=,
// and the long secrets the URL settings hold wherever they appear.

// redact masks a secret value: all of it, or a URL's password (a
// connection string that is not a URL is masked whole).
func redact(secret, v string) string {
	switch {
	case secret == "" || v == "":
		return v
	case secret == "url":
		return RedactURL(v)
	default:
		return mask
	}
}

// urlMask stands in for a URL's password.
const urlMask = "xxxxx"

// RedactURL returns u with the password of its userinfo (a user alone,
// which is often a token, whole) and any query parameter named like a
// password or secret replaced by xxxxx; a value that is not an absolute
// URL (a key=value DSN, a typo) is masked whole.
func RedactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" || parsed.Host == "" {
		return mask
	}
	if _, ok := parsed.User.Password(); ok {
		parsed.User = url.UserPassword(parsed.User.Username(), urlMask)
	} else if parsed.User != nil {
		parsed.User = url.User(urlMask)
	}
	if parsed.RawQuery != "" {
		q := parsed.Query()
		for k := range q {
			if secretParam(k) {
				q.Set(k, urlMask)
			}
		}
		parsed.RawQuery = q.Encode()
	}
	return parsed.String()
}

func secretParam(name string) bool {
	name = strings.ToLower(name)
	return strings.Contains(name, "pass") || strings.Contains(name, "secret")
}

// rawPassword finds the password of a URL's userinfo as written, also in a
// value url.Parse refuses (a bad port or escape), and a DSN's password=.
var (
	rawPassword = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*?:([^/?#]*)@`)
	dsnPassword = regexp.MustCompile(`(?i)(?:^|[\s?&])(?:ssl)?password=('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// urlPasswords returns the secrets a URL-valued setting holds: its
// userinfo's user and password as written and decoded, and the values of
// password or secret query parameters.
func urlPasswords(v string) []string {
	var out []string
	add := func(s string) {
		if s = strings.Trim(s, "'"); s != "" {
			out = append(out, s)
			if d, err := url.PathUnescape(s); err == nil && d != s {
				out = append(out, d)
			}
			if d, err := url.QueryUnescape(s); err == nil && d != s {
				out = append(out, d)
			}
		}
	}
	if m := rawPassword.FindStringSubmatch(v); m != nil {
		add(m[1])
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(v, -1) {
		add(m[1])
	}
	if u, err := url.Parse(v); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		if u.User != nil {
			add(u.User.Username())
		}
		for k, vs := range u.Query() {
			if secretParam(k) {
				for _, s := range vs {
					add(s)
				}
			}
		}
	}
	return out
}

// urlSecrets returns the secrets of every URL-valued setting of c.
func (c Config) urlSecrets() []string {
	cv := reflect.ValueOf(c)
	var out []string
	for _, v := range ConfigVariables() {
		if v.Secret == "url" {
			out = append(out, urlPasswords(text(cv.FieldByIndex(v.index)))...)
		}
	}
	return out
}

// Where text shows a secret by its place, it is cut there: a URL's
// userinfo (its password, or a user standing alone), a DSN's password=.
var (
	shownPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s"'<>]*:)[^/?#@\s"'<>]*@`)
	shownUser     = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@:\s"'<>]+@`)
	shownDSNPass  = regexp.MustCompile(`(?i)((?:^|[\s?&"])(?:ssl)?password=)('(?:[^'\\]|\\.)*'|[^\s&"]*)`)
)

// scrubbedLen is the shortest secret cut out of text wherever it stands:
// a shorter one ("guest", "postgres") is also an ordinary word of log
// lines, and is cut only where it stands as a URL's userinfo.
const scrubbedLen = 12

// scrub cuts secrets out of s: any URL's userinfo and DSN password, then
// every secret of scrubbedLen or more, as written, JSON-escaped or quoted
// the way %q writes it; each becomes xxxxx.
func scrub(s string, secrets []string) string {
	s = shownPassword.ReplaceAllString(s, "${1}"+urlMask+"@")
	s = shownUser.ReplaceAllString(s, "${1}"+urlMask+"@")
	s = shownDSNPass.ReplaceAllString(s, "${1}"+urlMask)
	for _, sec := range secrets {
		if len(sec) < scrubbedLen {
			continue
		}
		quoted, _ := json.Marshal(sec)
		for _, form := range []string{sec, string(quoted[1 : len(quoted)-1]), strings.Trim(strconv.Quote(sec), `"`)} {
			if form != "" {
				s = strings.ReplaceAll(s, form, urlMask)
			}
		}
	}
	return s
}

// redactedError is an error whose text lost some secrets; errors.Is and
// errors.As still see the original.
type redactedError struct {
	err  error
	text string
}

func (e redactedError) Error() string { return e.text }
func (e redactedError) Unwrap() error { return e.err }

func redactError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	text := scrub(err.Error(), secrets)
	if text == err.Error() {
		return err
	}
	return redactedError{err: err, text: text}
}

// RedactError returns err without the passwords of the URL-valued
// settings lookup gives (the environment a command was configured from),
// for errors printed by the command line, which may come from any adapter
// (a driver's DSN parse error quotes the whole DSN). It returns nil for
// nil.
func RedactError(err error, lookup func(string) (string, bool)) error {
	if err == nil {
		return nil
	}
	var secrets []string
	for _, v := range ConfigVariables() {
		if v.Secret != "url" {
			continue
		}
		for _, name := range []string{v.Name, v.Fallback} {
			if val, ok := lookup(name); ok && name != "" {
				secrets = append(secrets, urlPasswords(strings.TrimSpace(val))...)
			}
		}
	}
	return redactError(err, secrets)
}

// redactingWriter cuts secrets out of what is written through it: the log
// handler writes each record in one call.
type redactingWriter struct {
	w       io.Writer
	secrets []string
}

func (r redactingWriter) Write(p []byte) (int, error) {
	if len(r.secrets) == 0 {
		return r.w.Write(p)
	}
	if _, err := io.WriteString(r.w, scrub(string(p), r.secrets)); err != nil {
		return 0, err
	}
	return len(p), nil
}
