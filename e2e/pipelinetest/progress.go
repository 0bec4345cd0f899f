package pipelinetest

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// progress writes the readable progress log; hooks run on several goroutines, so every write holds mu.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) hooks() piped.Hooks {
	if p.w == nil {
		return piped.Hooks{}
	}
	return piped.Hooks{
		OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			kind := ""
			if s.Rollback {
				kind = " (rollback)"
			}
			p.printf("▶ %s%s", s.Name, kind)
		},
		OnLog: func(_ *piped.Run, _ piped.StageRecord, l piped.LogLine) {
			for _, line := range strings.Split(strings.TrimRight(l.Text, "\n"), "\n") {
				p.printf("    │ %s", line)
			}
		},
		OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			p.printf("  %s %s in %s", s.Name, strings.TrimPrefix(s.Status.String(), "STAGE_"), s.Latency().Round(100_000_000))
		},
	}
}
