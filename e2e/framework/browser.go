package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
)

// browserNames are the headless-capable browsers NewBrowser looks for on PATH, Debian's chromium first.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

// Browser is a headless Chromium driven over the DevTools protocol (chromedp), one tab, closed when the spec
// ends. It records what the page logs as errors.
type Browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// NewBrowser starts a headless Chromium for the spec. Without one it skips the spec saying how to install
// it, or fails it on CI (CI=true), where the browser must be there.
func NewBrowser() *Browser {
	GinkgoHelper()
	unavailable := func(why string) {
		GinkgoHelper()
		msg := "no headless browser: " + why + "; run make browser (Debian's chromium) or put Chrome on PATH"
		if os.Getenv("CI") == "true" {
			Fail(msg + " (CI=true: the browser spec must run)")
		}
		Skip(msg)
	}
	var path string
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		unavailable("none of " + strings.Join(browserNames, ", ") + " is on PATH")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1400))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	DeferCleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{ctx: ctx}
	// The first action starts the browser, which lives as long as that action's context: ctx.
	if err := chromedp.Do(ctx); err != nil {
		unavailable(fmt.Sprintf("%s does not start: %v", path, err))
	}
	messages := chromedp.Console(ctx) // subscribed now; read until the browser closes
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.record(m)
		}
	}()
	return b
}

// record keeps the page's console errors, uncaught exceptions and error log entries (failed loads, blocked
// content).
func (b *Browser) record(m chromedp.ConsoleMessage) {
	if m.Type != chromedp.ConsoleError && !m.IsException() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line+1))
}

// Errors returns the errors the pages have logged so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Open loads url and waits until its body is there.
func (b *Browser) Open(url string) error {
	return b.do(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// Eval runs a JavaScript expression in the page and decodes its JSON value into out.
func (b *Browser) Eval(expression string, out any) error {
	raw, err := runAction(b, chromedp.Evaluate[[]byte](expression))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// Screenshot returns a PNG of the whole page.
func (b *Browser) Screenshot() ([]byte, error) {
	return runAction(b, chromedp.FullScreenshot(100))
}

// do runs actions within IntervalBrowserAction.
func (b *Browser) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, IntervalBrowserAction)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// runAction runs an action with a result within IntervalBrowserAction.
func runAction[T any](b *Browser, action chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, IntervalBrowserAction)
	defer cancel()
	return chromedp.Run(ctx, action)
}

// browserPoll is how often PollPage re-reads a page.
const browserPoll = 100 * time.Millisecond

// PollPage evaluates expression into out until done(out) or IntervalBrowserAction has passed, and reports
// whether done was reached; out then holds the last value read. It does not fail the spec, so that it can
// run in deployment hooks.
func (b *Browser) PollPage(expression string, out any, done func() bool) bool {
	for deadline := time.Now().Add(IntervalBrowserAction); ; time.Sleep(browserPoll) {
		if err := b.Eval(expression, out); err == nil && done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
