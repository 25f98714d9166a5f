package localkeyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// fileState is the JSON document on disk. Versions run 1..len(Keys).
type fileState struct {
	Format               int          `json:"format"`
	MinDecryptionVersion int          `json:"min_decryption_version"`
	Keys                 []fileMaster `json:"keys"`
}

type fileMaster struct {
	Version int    `json:"version"`
	Key     []byte `json:"key"` // base64 in JSON
}

const fileFormat = 1

func (s *state) toFile() fileState {
	f := fileState{Format: fileFormat, MinDecryptionVersion: s.minVersion}
	for i, k := range s.masters {
		f.Keys = append(f.Keys, fileMaster{Version: i + 1, Key: k})
	}
	return f
}

// fromFile validates a decoded document; errors never quote key bytes.
func fromFile(f fileState) (*state, error) {
	if f.Format != fileFormat {
		return nil, fmt.Errorf("unknown format %d", f.Format)
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	s := &state{minVersion: f.MinDecryptionVersion}
	for i, k := range f.Keys {
		if k.Version != i+1 {
			return nil, fmt.Errorf("key %d has version %d, want %d", i, k.Version, i+1)
		}
		if len(k.Key) != masterKeyLen {
			return nil, fmt.Errorf("key version %d is %d bytes, want %d", k.Version, len(k.Key), masterKeyLen)
		}
		s.masters = append(s.masters, k.Key)
	}
	if s.minVersion < 1 || s.minVersion > s.latest() {
		return nil, fmt.Errorf("min_decryption_version %d outside 1..%d", s.minVersion, s.latest())
	}
	return s, nil
}

// load reads and validates the keyring file; errors wrap os errors (so
// errors.Is(err, fs.ErrNotExist) works) and never quote key bytes.
func load(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f fileState
	if err := json.Unmarshal(b, &f); err != nil {
		// A syntax error quotes the offending character, which may be
		// key material: report only its offset.
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return nil, fmt.Errorf("keyring file %s is corrupt: invalid JSON at byte %d", path, se.Offset)
		}
		return nil, fmt.Errorf("keyring file %s is corrupt: %w", path, err)
	}
	s, err := fromFile(f)
	if err != nil {
		return nil, fmt.Errorf("keyring file %s is invalid: %w", path, err)
	}
	return s, nil
}

// save writes s to path atomically (temp file in the same directory, 0600,
// fsync, rename), so a crash leaves the old or the new keyring, never half.
func save(path string, s *state) (err error) {
	b, err := json.MarshalIndent(s.toFile(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode keyring: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write keyring %s: %w", path, err)
	}
	// Persist the rename itself; best effort where directories cannot sync.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
