// The project page (/projects/{id}): follows `project:{id}` and redraws the live part
// of the page (columns, the open task, the activity feed) when anyone changes the
// project (see live.js), and says who changed what.
import { follow } from "/static/js/live.js";

const boot = JSON.parse(document.getElementById("project-boot").textContent);
const status = document.getElementById("project-status");

follow({
  streams: [`project:${boot.project}`],
  region: "project-live",
  onEvent: (event) => {
    const a = event.activity;
    if (a) status.textContent = `${a.by_name} ${a.text}`;
  },
  onReady: () => {
    document.body.dataset.project = "live";
  },
  onError: (err) => {
    status.textContent = `Could not refresh: ${err.message}`;
  },
});
