// Keeps a server-rendered part of a page live: follows the named streams and, when any of
// them changes, fetches the page again and swaps that part (`region`, an element id). While
// a field inside it has focus the redraw waits, so nobody loses typing. Pages that need
// nothing more boot it from a JSON block `#live-boot`: `{ "streams": [...], "region": "…" }`.
// Elements with `data-countdown` (an instant, Unix ms) count down to it: "7:05 left",
// "3 h 20 min left" (as the page renders them).
import { sharedClient } from "/static/js/cflows.js";

/**
 * Follows `streams`; on each change calls `onEvent(event, stream)` and redraws `region`.
 * Once every stream has answered, calls `onReady()` and sets
 * `document.body.dataset.following` to "yes";
 * `document.body.dataset.redraws` counts the redraws (tests wait for them).
 */
export function follow({ streams, region, onEvent, onError, onReady }) {
  const client = sharedClient({
    onStatus: (s) => {
      document.body.dataset.live = s;
    },
  });
  const answered = new Set();
  const ready = () => {
    document.body.dataset.following = "yes";
    onReady?.();
  };
  let pending = false;
  let fetching = false;

  const busy = () => {
    const live = document.getElementById(region);
    const active = document.activeElement;
    return live && active && live.contains(active) && active.matches("input, textarea, select");
  };

  async function redraw() {
    if (busy() || fetching) {
      pending = true;
      return;
    }
    fetching = true;
    pending = false;
    try {
      const resp = await fetch(location.href, { credentials: "same-origin" });
      if (!resp.ok) throw new Error(resp.statusText);
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const next = doc.getElementById(region);
      const live = document.getElementById(region);
      if (next && live) live.replaceWith(document.adoptNode(next));
      document.body.dataset.redraws = String(Number(document.body.dataset.redraws ?? 0) + 1);
    } catch (err) {
      onError?.(err);
    } finally {
      fetching = false;
      if (pending) setTimeout(redraw, 50);
    }
  }

  document.addEventListener("focusout", () => {
    if (pending) setTimeout(redraw, 0);
  });

  for (const stream of streams) {
    client.subscribe(stream, {
      onSnapshot: () => {
        // A later snapshot means we were too far behind to replay: draw again.
        if (answered.has(stream)) redraw();
        answered.add(stream);
        if (answered.size === streams.length) ready();
      },
      onEvent: (event) => {
        onEvent?.(event, stream);
        redraw();
      },
    });
  }
  if (streams.length === 0) ready();
}

function countdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-countdown]")) {
    const s = Math.max(0, Math.ceil((Number(el.dataset.countdown) - now) / 1000));
    el.textContent =
      s <= 0
        ? "running out"
        : s < 3600
          ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} left`
          : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min left`;
  }
}
setInterval(countdowns, 1000);

const boot = document.getElementById("live-boot");
if (boot) follow(JSON.parse(boot.textContent));
