package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/tools/cover"
)

// Go's coverage profile has no block for the condition of a switch case: the blocks end at the switch's
// "{" and start again after each case's ":". gremlins decides from that profile which mutants the tests
// reach, so it reports every mutant of a case condition as not covered and never runs it, however often the
// tests evaluate the condition. The run therefore puts a go command of its own first on gremlins' PATH: this
// program again, which runs the real go and, after a `go test -coverprofile`, adds to the profile a block
// for each case condition the tests evaluated. A case condition was evaluated when the body of its case or
// of a later case, or the default body, ran: the conditions before the case that matched were all evaluated.

// realGoEnv names the real go command to the program when it runs as gremlins' go.
const realGoEnv = "MUTATION_REAL_GO"

// shimGo makes a directory holding a "go" that runs this program as gremlins' go (see runAsGo), and
// returns the environment that puts it first on the PATH.
func shimGo(dir string, env []string) ([]string, error) {
	realGo, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	if realGo, err = filepath.Abs(realGo); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o700); err != nil {
		return nil, err
	}
	if err := os.Symlink(self, filepath.Join(bin, "go")); err != nil {
		return nil, err
	}
	return append(env, realGoEnv+"="+realGo, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), nil
}

// runAsGo runs the real go with args; after a test run writing a coverage profile, it adds the blocks of the
// case conditions to it. It returns the exit code, 2 for tests that did not build (see exitCode).
func runAsGo(realGo string, args []string) int {
	cmd := exec.Command(realGo, args...)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, io.MultiWriter(os.Stdout, &out), io.MultiWriter(os.Stderr, &out)
	if err := cmd.Run(); err != nil {
		if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
			return exitCode(args, exit.ExitCode(), out.Bytes())
		}
		fmt.Fprintln(os.Stderr, "mutation (as go):", err)
		return 2
	}
	i := slices.Index(args, "-coverprofile")
	if len(args) == 0 || args[0] != "test" || i < 0 || i+1 >= len(args) {
		return 0
	}
	if err := addCaseBlocks(args[i+1], "."); err != nil {
		fmt.Fprintln(os.Stderr, "mutation (as go): adding the switch cases to the coverage profile:", err)
		return 2
	}
	return 0
}

// exitCode is the exit code gremlins gets for a go command that exited with code and printed out. go test
// exits with 1 both when a test fails and when the package does not build, and gremlins counts 1 as a killed
// mutant, 2 as one that is not viable: a mutant that does not compile (a string "+" turned into "-") would be
// counted killed. Tests that did not build therefore exit with 2.
func exitCode(args []string, code int, out []byte) int {
	if code == 1 && len(args) > 0 && args[0] == "test" && bytes.Contains(out, []byte("[build failed]")) {
		return 2
	}
	return code
}

// addCaseBlocks appends to the profile at path a covered block for each case condition and each function
// literal's tail (see funcTailBlocks) the tests evaluated, in the module at dir.
func addCaseBlocks(path, dir string) error {
	profiles, err := cover.ParseProfiles(path)
	if err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	module := modfile.ModulePath(gomod)
	var lines []string
	for _, p := range profiles {
		rel, ok := strings.CutPrefix(p.FileName, module+"/")
		if !ok {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		parsed, err := parseSource(src)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		blocks := slices.Concat(caseBlocks(parsed, p.Blocks), funcTailBlocks(parsed, p.Blocks), varBlocks(parsed))
		for _, b := range blocks {
			lines = append(lines, fmt.Sprintf("%s:%d.%d,%d.%d 0 1\n", p.FileName, b.StartLine, b.StartCol, b.EndLine, b.EndCol))
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(lines, ""))
	return errors.Join(err, f.Close())
}

// source is a parsed Go file, read once for every kind of block the profile lacks.
type source struct {
	fset *token.FileSet
	file *ast.File
}

func parseSource(src []byte) (source, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution)
	return source{fset: fset, file: f}, err
}

// varBlocks returns a block for the values of each package-level var of src. Go's profile has none, yet a
// package's vars are initialised whenever its test binary starts, so their mutants are reached by any run
// of its tests (an error message built with "+" is then found not viable rather than not covered). A value
// holding a function literal is left out: its body runs only when called.
func varBlocks(src source) []cover.ProfileBlock {
	var out []cover.ProfileBlock
	for _, d := range src.file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			if v := spec.(*ast.ValueSpec); len(v.Values) > 0 && !hasFuncLit(v) {
				start, end := src.fset.Position(v.Values[0].Pos()), src.fset.Position(v.Values[len(v.Values)-1].End())
				out = append(out, cover.ProfileBlock{StartLine: start.Line, StartCol: start.Column, EndLine: end.Line, EndCol: end.Column, Count: 1})
			}
		}
	}
	return out
}

func hasFuncLit(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		_, lit := n.(*ast.FuncLit)
		found = found || lit
		return !found
	})
	return found
}

// caseBlocks returns a block from the first condition to the colon of each case of src whose conditions
// the covered blocks show evaluated.
func caseBlocks(src source, blocks []cover.ProfileBlock) []cover.ProfileBlock {
	fset := src.fset
	ran := func(clause *ast.CaseClause) bool {
		from, to := fset.Position(clause.Colon), fset.Position(clause.End())
		return slices.ContainsFunc(blocks, func(b cover.ProfileBlock) bool {
			return b.Count > 0 && after(b.StartLine, b.StartCol, from) && !after(b.StartLine, b.StartCol, to)
		})
	}
	var out []cover.ProfileBlock
	ast.Inspect(src.file, func(n ast.Node) bool {
		var body *ast.BlockStmt
		switch s := n.(type) {
		case *ast.SwitchStmt:
			body = s.Body
		case *ast.TypeSwitchStmt:
			body = s.Body
		default:
			return true
		}
		var cases []*ast.CaseClause
		defaultRan := false
		for _, st := range body.List {
			c := st.(*ast.CaseClause)
			if c.List == nil {
				defaultRan = ran(c)
				continue
			}
			cases = append(cases, c)
		}
		evaluated := defaultRan
		for _, c := range slices.Backward(cases) {
			evaluated = evaluated || ran(c)
			if evaluated {
				start, end := fset.Position(c.List[0].Pos()), fset.Position(c.Colon)
				out = append(out, cover.ProfileBlock{StartLine: start.Line, StartCol: start.Column, EndLine: end.Line, EndCol: end.Column, Count: 1})
			}
		}
		return true
	})
	return out
}

// after reports whether line:col is at or after p.
func after(line, col int, p token.Position) bool {
	return line > p.Line || line == p.Line && col >= p.Column
}

// funcTailBlocks returns a block for the code between the end of each function literal of src and a covered
// block starting after it on the same line. Go's profile has no block for that code either: in
// `if err := do(func() error { ... }); err != nil {` the condition lies between the literal's block and the
// body's. When the body ran, the condition was evaluated.
func funcTailBlocks(src source, blocks []cover.ProfileBlock) []cover.ProfileBlock {
	var out []cover.ProfileBlock
	ast.Inspect(src.file, func(n ast.Node) bool {
		lit, ok := n.(*ast.FuncLit)
		if !ok {
			return true
		}
		end := src.fset.Position(lit.End())
		i := slices.IndexFunc(blocks, func(b cover.ProfileBlock) bool {
			return b.Count > 0 && b.StartLine == end.Line && b.StartCol > end.Column
		})
		if i >= 0 {
			out = append(out, cover.ProfileBlock{StartLine: end.Line, StartCol: end.Column, EndLine: end.Line, EndCol: blocks[i].StartCol, Count: 1})
		}
		return true
	})
	return out
}
