package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// eventPeriod is how often an open page's state is re-read; an update is
// sent only when what it shows has changed.
const eventPeriod = time.Second

// livePart reads the live part of the page a request names: the template
// that renders it and the template's data.
type livePart func(r *http.Request) (template string, data any)

// events streams a page's live part as server-sent events named "update",
// each carrying the part's HTML. Work is done only while a page is
// connected; the stream ends when the client goes away.
func events(part livePart) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		flusher := http.NewResponseController(w)
		ticker := time.NewTicker(eventPeriod)
		defer ticker.Stop()
		last := ""
		for {
			name, data := part(r)
			var b strings.Builder
			if err := pages.ExecuteTemplate(&b, name, data); err != nil {
				b.Reset()
				fmt.Fprintf(&b, "rendering the live part: %v", err)
			}
			if html := b.String(); html != last {
				last = html
				if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", strings.ReplaceAll(html, "\n", "\ndata: ")); err != nil {
					return
				}
				if err := flusher.Flush(); err != nil {
					return
				}
			}
			select {
			case <-r.Context().Done():
				return
			case <-ticker.C:
			}
		}
	}
}
