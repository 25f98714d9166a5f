// Package localdir is a ports.BlobStore in a local directory: one file a
// ref. keyward keeps its signed audit checkpoints there when
// KEYWARD_AUDIT_CHECKPOINT_PATH names a directory (a mounted volume kept
// apart from the database, or a directory another system collects).
package localdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Store keeps each ref in a file below its directory.
type Store struct{ dir string }

var _ ports.BlobStore = (*Store)(nil)

// New returns a store in dir, which it creates (0700) when missing; an
// error when it cannot.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("localdir: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localdir: %w", err)
	}
	return &Store{dir: dir}, nil
}

// path maps ref to a file directly in the directory, its name the ref
// escaped (a slash becomes %2F): refs never leave the directory, and
// "a/b" and "a/b/c" are two files rather than a file and a directory. An
// empty ref, "." and ".." are refused.
func (s *Store) path(ref string) (string, error) {
	name := url.PathEscape(ref)
	if ref == "" || name == "." || name == ".." {
		return "", fmt.Errorf("localdir: ref %q names no file", ref)
	}
	return filepath.Join(s.dir, name), nil
}

// Put writes data under ref through a temporary file and a rename, so a
// reader never sees half a file.
func (s *Store) Put(_ context.Context, ref string, data []byte) error {
	p, err := s.path(ref)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".put-*")
	if err != nil {
		return fmt.Errorf("localdir put %s: %w", ref, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("localdir put %s: %w", ref, err)
	}
	if err := errors.Join(tmp.Sync(), tmp.Close(), os.Rename(tmp.Name(), p)); err != nil {
		return fmt.Errorf("localdir put %s: %w", ref, err)
	}
	return nil
}

// Get returns the data, domain.ErrNotFound when ref is not stored.
func (s *Store) Get(_ context.Context, ref string) ([]byte, error) {
	p, err := s.path(ref)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", domain.ErrNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("localdir get %s: %w", ref, err)
	}
	return b, nil
}

// Delete removes refs; a missing one is not an error.
func (s *Store) Delete(_ context.Context, refs ...string) error {
	for _, ref := range refs {
		p, err := s.path(ref)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("localdir delete %s: %w", ref, err)
		}
	}
	return nil
}

// Exists reports whether ref is stored.
func (s *Store) Exists(_ context.Context, ref string) (bool, error) {
	p, err := s.path(ref)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("localdir stat %s: %w", ref, err)
	}
}

// List returns the refs stored that start with prefix, sorted.
func (s *Store) List(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("localdir list: %w", err)
	}
	var refs []string
	for _, e := range entries {
		ref, err := url.PathUnescape(e.Name())
		// A name Put did not write (its temporary files, anything else
		// put there) is not a ref.
		if err != nil || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".put-") || url.PathEscape(ref) != e.Name() {
			continue
		}
		if strings.HasPrefix(ref, prefix) {
			refs = append(refs, ref)
		}
	}
	slices.Sort(refs)
	return refs, nil
}
