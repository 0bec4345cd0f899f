package piped

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// dirCloner is a deploysource.SourceCloner that "clones" a commit by copying an application directory into
// <dest>/<appPath> and writing the file overrides on top, so piped's own deploysource.Provider can hand out
// fresh copies exactly as it does for a git checkout.
type dirCloner struct {
	appDir   string
	appPath  string
	files    map[string]string
	revision string
	revName  string
}

func (c *dirCloner) Revision() string     { return c.revision }
func (c *dirCloner) RevisionName() string { return c.revName }

func (c *dirCloner) Clone(_ context.Context, dest string) error {
	target := filepath.Join(dest, c.appPath)
	if err := copyDir(c.appDir, target); err != nil {
		return fmt.Errorf("failed to copy %s: %w", c.appDir, err)
	}
	for name, content := range c.files {
		p := filepath.Join(target, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
