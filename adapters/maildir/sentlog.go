package maildir

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// sentDir is the subdirectory of the sent-key log; ReadAll skips it.
const sentDir = ".sent"

// sentLogName is the log of sent keys in sentDir: a tag a line.
const sentLogName = "log"

// sentLog is the set of tags sent into a maildir directory, shared by
// every process writing into it through the log .sent/log: a process
// appends the tag of each message it sends and reads what the others
// appended since it last looked. The caller serialises its use.
type sentLog struct {
	dir  string
	f    *os.File        // the log, opened for reading and appending
	read int64           // how much of it this process has read
	buf  []byte          // for reading it
	tags map[string]bool // known sent: by this process, or read from the log and the directory
}

// openSentLog opens dir's sent log and knows every tag sent into dir.
func openSentLog(dir string) (*sentLog, error) {
	l := &sentLog{dir: dir, tags: map[string]bool{}}
	return l, l.open()
}

func (l *sentLog) path() string { return filepath.Join(l.dir, sentDir, sentLogName) }

// open opens the log (made again, with its directory, when it is gone),
// reads it whole and adds the tags it lacks (see index).
func (l *sentLog) open() error {
	if err := os.MkdirAll(filepath.Join(l.dir, sentDir), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path(), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.read = f, 0
	return l.index()
}

// has reports whether tag was sent into the directory, by this process or
// another (whose log lines it reads first).
func (l *sentLog) has(tag string) (bool, error) {
	if l.tags[tag] {
		return true, nil
	}
	if err := l.sync(); err != nil {
		return false, err
	}
	return l.tags[tag], nil
}

// add records tag as sent. This process remembers it whatever happens; a
// line the log did not take is made up for by the next open, from the
// message's file name.
func (l *sentLog) add(tag string) {
	l.tags[tag] = true
	_, _ = l.f.Write([]byte(tag + "\n"))
}

// sync reads what was appended to the log since this process last read
// it, reopening it first when its file is no longer the one at its path
// (deleted, or replaced by another process's) or was cut short: the
// processes writing into the directory then meet in the file at the path.
func (l *sentLog) sync() error {
	open, oerr := l.f.Stat()
	onDisk, derr := os.Stat(l.path())
	if oerr != nil || derr != nil || !os.SameFile(open, onDisk) || onDisk.Size() < l.read {
		return l.open()
	}
	return l.readNew()
}

// index knows as sent the tag of every message already in the directory,
// every marker file earlier versions left in sentDir, and the log; it
// appends to the log the tags it lacks (a message whose line was not
// written, its process stopped between the two, say), for the other
// processes.
func (l *sentLog) index() error {
	known := l.tags // this process's, which a log made again lacks
	l.tags = map[string]bool{}
	if err := l.readNew(); err != nil {
		l.tags = known
		return err
	}
	logged := maps.Clone(l.tags)
	maps.Copy(l.tags, known)
	if err := l.messageTags(l.tags); err != nil {
		return err
	}
	if err := l.markerTags(l.tags); err != nil {
		return err
	}
	var missing []byte
	for tag := range l.tags {
		if !logged[tag] {
			missing = append(missing, tag+"\n"...)
		}
	}
	if len(missing) > 0 {
		if _, err := l.f.Write(missing); err != nil {
			return err
		}
	}
	return nil
}

// messageTags adds the tag of every message in the directory: the end of
// its file's name, after the last '-' and before ".eml".
func (l *sentLog) messageTags(tags map[string]bool) error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".eml")
		if e.IsDir() || strings.HasPrefix(name, ".") || !ok {
			continue
		}
		if i := strings.LastIndexByte(name, '-'); i >= 0 {
			name = name[i+1:]
		}
		if validTag(name) {
			tags[name] = true
		}
	}
	return nil
}

// markerTags adds the tags of the marker files earlier versions left in
// sentDir, one empty file a tag.
func (l *sentLog) markerTags(tags map[string]bool) error {
	entries, err := os.ReadDir(filepath.Join(l.dir, sentDir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || name == sentLogName {
			continue
		}
		if validTag(name) {
			tags[name] = true
		}
	}
	return nil
}

// readNew reads the lines other processes (and this one) appended to the
// log since this process last read it. A line being written (no newline
// yet) waits for the next read.
func (l *sentLog) readNew() error {
	if l.buf == nil {
		l.buf = make([]byte, 32<<10)
	}
	for {
		n, err := l.f.ReadAt(l.buf, l.read)
		chunk := l.buf[:n]
		end := bytes.LastIndexByte(chunk, '\n')
		if end < 0 && n == len(l.buf) {
			end = n - 1 // a full chunk and no line in it: not a line of ours, passed over
		}
		if end >= 0 {
			for line := range bytes.SplitSeq(chunk[:end], []byte{'\n'}) {
				// A line that is not a tag (two run together by a short
				// write, say) is passed over.
				if validTag(string(line)) {
					l.tags[string(line)] = true
				}
			}
			l.read += int64(end + 1)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// validTag reports whether t is a tag as Send makes them: 16 hex digits.
func validTag(t string) bool {
	if len(t) != 16 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}
