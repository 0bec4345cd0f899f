package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// runCP is `cp -rf SRC DEST`, the one command piped runs besides plugins (its deploy source provider copies
// each checkout with it): the container image, FROM scratch, links /bin/cp to this binary.
func runCP(args []string, stderr io.Writer) int {
	if len(args) != 3 || args[0] != "-rf" {
		_, _ = fmt.Fprintf(stderr, "cp: only `cp -rf SRC DEST` is supported, got %q\n", args)
		return 1
	}
	src, dest := args[1], args[2]
	if info, err := os.Stat(dest); err == nil && info.IsDir() {
		dest = filepath.Join(dest, filepath.Base(src))
	}
	if err := copyTree(src, dest); err != nil {
		_, _ = fmt.Fprintf(stderr, "cp: %v\n", err)
		return 1
	}
	return 0
}

// copyTree copies src (a file or a directory) to dest, keeping modes and symbolic links.
func copyTree(src, dest string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dest, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			_ = os.Remove(target)
			return os.Symlink(link, target)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}
