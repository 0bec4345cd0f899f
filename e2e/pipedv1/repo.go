package pipedv1

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo is a local git repository piped clones by its path, on branch main.
type Repo struct {
	Dir string
}

// Branch is the branch a Repo commits to.
const Branch = "main"

// NewRepo creates a git repository in dir holding a copy of each source directory under its name
// (for example "canary" → dir/canary) and commits it.
func NewRepo(ctx context.Context, dir string, apps map[string]string) (*Repo, error) {
	r := &Repo{Dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := r.git(ctx, "init", "--quiet", "--initial-branch", Branch); err != nil {
		return nil, err
	}
	files := map[string]string{}
	for name, src := range apps {
		entries, err := os.ReadDir(src)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				return nil, err
			}
			files[filepath.Join(name, e.Name())] = string(b)
		}
	}
	if _, err := r.Commit(ctx, "Add the applications", files); err != nil {
		return nil, err
	}
	return r, nil
}

// Commit writes files (paths relative to the repository) and commits them with message; it returns the
// commit hash.
func (r *Repo) Commit(ctx context.Context, message string, files map[string]string) (string, error) {
	for p, content := range files {
		path := filepath.Join(r.Dir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	if err := r.git(ctx, "add", "--all"); err != nil {
		return "", err
	}
	if err := r.git(ctx, "commit", "--quiet", "--allow-empty", "--message", message); err != nil {
		return "", err
	}
	return r.Head(ctx)
}

// CommitOnBranch commits files on branch, created from main when it does not exist, as a pull request's head
// branch; main stays checked out. It returns the commit hash.
func (r *Repo) CommitOnBranch(ctx context.Context, branch, message string, files map[string]string) (string, error) {
	if err := r.git(ctx, "checkout", "--quiet", "-B", branch); err != nil {
		return "", err
	}
	hash, commitErr := r.Commit(ctx, message, files)
	if err := r.git(ctx, "checkout", "--quiet", Branch); err != nil {
		return "", err
	}
	return hash, commitErr
}

// Remote is the repository's URL as piped.yaml's repositories[].remote names it: piped clones a bare path
// but refuses to build a deployment from a remote that is not a URL ("no scp URL found").
func (r *Repo) Remote() string { return "file://" + r.Dir }

// Head is the hash of the branch's last commit.
func (r *Repo) Head(ctx context.Context) (string, error) {
	out, err := r.output(ctx, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

func (r *Repo) git(ctx context.Context, args ...string) error {
	_, err := r.output(ctx, args...)
	return err
}

func (r *Repo) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
