// The project page (/projects/{id}): follows `project:{id}` and redraws the live part
// of the page (columns, the open task, the activity feed) when anyone changes the
// project. While a form inside it has focus the redraw waits, so nobody loses typing.
import { sharedClient } from "/static/js/cflows.js";

const boot = JSON.parse(document.getElementById("project-boot").textContent);
const status = document.getElementById("project-status");
const client = sharedClient({
  onStatus: (s) => {
    document.body.dataset.live = s;
  },
});
let first = true;
let pending = false;
let fetching = false;

function busy() {
  const live = document.getElementById("project-live");
  const active = document.activeElement;
  return live && active && live.contains(active) && active.matches("input, textarea, select");
}

async function redraw() {
  if (busy()) {
    pending = true;
    return;
  }
  if (fetching) {
    pending = true;
    return;
  }
  fetching = true;
  pending = false;
  try {
    const resp = await fetch(location.href, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(resp.statusText);
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const next = doc.getElementById("project-live");
    const live = document.getElementById("project-live");
    if (next && live) live.replaceWith(document.adoptNode(next));
    document.body.dataset.project = "live";
  } catch (err) {
    status.textContent = `Could not refresh: ${err.message}`;
  } finally {
    fetching = false;
    if (pending) setTimeout(redraw, 50);
  }
}

document.addEventListener("focusout", () => {
  if (pending) setTimeout(redraw, 0);
});

client.subscribe(`project:${boot.project}`, {
  onSnapshot: () => {
    if (!first) redraw();
    first = false;
    document.body.dataset.project = "live";
  },
  onEvent: (event) => {
    const a = event.activity;
    if (a) status.textContent = `${a.by_name} ${a.text}`;
    redraw();
  },
});
