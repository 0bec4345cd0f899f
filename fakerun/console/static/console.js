// Keeps a page's live part up to date from its server-sent events: each
// "update" event carries the part's new HTML, rendered and escaped by the server.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (!live || !live.dataset.events) {
    return;
  }
  const events = new EventSource(live.dataset.events);
  events.addEventListener("update", (e) => {
    live.innerHTML = e.data;
    live.dataset.updated = String(Date.now());
  });
});
