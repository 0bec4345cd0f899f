package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// gremlins reports a mutant as not covered when its position lies in no executed block of the coverage profile
// of `go test -coverprofile`. Go's blocks leave out the expression of a case clause (`case x != "":`) and what
// follows a function literal on its line (`}); err != nil {`), so gremlins never tests mutants there, however
// often the tests run them. The run therefore puts this command first on gremlins' PATH under the name go: it
// runs the real go and, after a coverage run, starts each executed block at the beginning of its first line.
// A case clause then counts as reached when its body ran, and the condition after a function literal when the
// body of its if ran; gremlins tests those mutants like any other (a wrongly reached one can only survive).

// goWrapperEnv names the real go binary for the wrapper.
const goWrapperEnv = "MUTATION_REAL_GO"

// installGoWrapper links this executable as dir/go and returns the environment that makes gremlins run it.
func installGoWrapper(dir string, env []string) ([]string, error) {
	realGo, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(self, filepath.Join(dir, "go")); err != nil {
		return nil, err
	}
	return append(env, goWrapperEnv+"="+realGo, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH")), nil
}

// runGoWrapper runs the real go with args and widens the blocks of the coverage profile it writes. It returns
// the exit code.
func runGoWrapper(args []string) int {
	cmd := exec.Command(os.Getenv(goWrapperEnv), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "mutation: go wrapper:", err)
		return 2
	}
	profile := coverProfileArg(args)
	if profile == "" {
		return 0
	}
	if err := widenProfileFile(profile); err != nil {
		fmt.Fprintln(os.Stderr, "mutation: go wrapper:", err)
		return 2
	}
	return 0
}

// coverProfileArg returns the file of -coverprofile in args, or "".
func coverProfileArg(args []string) string {
	for i, a := range args {
		switch {
		case (a == "-coverprofile" || a == "--coverprofile") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "-coverprofile="), strings.HasPrefix(a, "--coverprofile="):
			_, file, _ := strings.Cut(a, "=")
			return file
		}
	}
	return ""
}

func widenProfileFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	widened, err := widenProfile(data)
	if err != nil {
		return fmt.Errorf("coverage profile %s: %w", path, err)
	}
	return os.WriteFile(path, widened, 0o600)
}

// profileBlock is a block line of a coverage profile: file:startLine.startCol,endLine.endCol statements count.
var profileBlock = regexp.MustCompile(`^(.+:\d+)\.(\d+)(,\d+\.\d+ \d+ )(\d+)$`)

// widenProfile starts every executed block of a coverage profile at column 1 of its first line.
func widenProfile(data []byte) ([]byte, error) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if m := profileBlock.FindStringSubmatch(line); m != nil {
			count, err := strconv.Atoi(m[4])
			if err != nil {
				return nil, err
			}
			if count > 0 {
				line = m[1] + ".1" + m[3] + m[4]
			}
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes(), sc.Err()
}
