// The notification bell in every page header: a live unread badge and a dropdown of the
// newest notifications. Without JavaScript the bell is a plain link to /notifications.

import { sharedClient } from "./cflows.js";

const bell = document.querySelector("[data-bell]");
if (bell) {
  const badge = bell.querySelector("[data-unread]");
  const panel = document.querySelector("[data-bell-panel]");
  const list = panel.querySelector("ul");
  let recent = [];

  const setUnread = (n) => {
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = n === 0;
    bell.setAttribute("aria-label", `Notifications, ${n} unread`);
    bell.dataset.unreadCount = String(n);
    // "Mark all read" (here and on /notifications) only while something is unread.
    for (const el of document.querySelectorAll("[data-when-unread]")) el.hidden = n === 0;
  };

  const render = () => {
    list.replaceChildren();
    if (recent.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "Nothing yet.";
      list.append(li);
    }
    for (const n of recent.slice(0, 8)) {
      const li = document.createElement("li");
      if (!n.read) li.className = "unread";
      const a = document.createElement("a");
      a.href = n.link || "/notifications";
      const title = document.createElement("strong");
      title.textContent = n.count > 1 ? `${n.title} (${n.count})` : n.title;
      const body = document.createElement("span");
      body.textContent = n.body;
      a.append(title, body);
      li.append(a);
      list.append(li);
    }
  };

  const client = sharedClient({
    onStatus: (status) => bell.classList.toggle("offline", status !== "online"),
  });
  client.subscribe(`inbox:${bell.dataset.user}`, {
    onSnapshot(state) {
      recent = state.recent;
      setUnread(state.unread);
      render();
    },
    onEvent(ev) {
      setUnread(ev.unread);
      if (ev.kind === "notification_added" || ev.kind === "notification_coalesced") {
        recent = [ev.notification, ...recent.filter((n) => n.id !== ev.notification.id)];
      } else if (ev.kind === "notification_read") {
        recent = recent.map((n) => (n.id === ev.id ? { ...n, read: true } : n));
      } else if (ev.kind === "all_read") {
        recent = recent.map((n) => ({ ...n, read: true }));
      }
      render();
    },
  });

  bell.addEventListener("click", (e) => {
    e.preventDefault();
    panel.hidden = !panel.hidden;
  });
  panel.querySelector("[data-mark-all]").addEventListener("click", () => {
    client.request({ op: "mark_all_read" }).catch((err) => console.warn(err));
  });
  document.addEventListener("click", (e) => {
    if (!panel.hidden && !panel.contains(e.target) && !bell.contains(e.target)) panel.hidden = true;
  });
  window.cflows = client;
}
