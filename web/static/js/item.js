// The item page (/items/{id}): follows `item:{id}` and shows moves, changes and
// comments made elsewhere as they happen (a banner offers to reload the form fields);
// the step's booking panel posts in place and is read again when the item changes.
import { sharedClient } from "/static/js/cflows.js";
import { enhance, refreshPanel } from "/static/js/booking.js";

const boot = JSON.parse(document.getElementById("item-boot").textContent);
const status = document.getElementById("item-step");
const client = sharedClient();
let first = true;
let booking; // the item's booking as last shown

function note(text) {
  let p = document.getElementById("item-live");
  if (!p) {
    p = document.createElement("p");
    p.id = "item-live";
    p.className = "notice";
    p.setAttribute("role", "status");
    status.after(p);
  }
  p.replaceChildren(text, " ", Object.assign(document.createElement("a"), { href: location.pathname, textContent: "Reload" }));
}

// Marked done and moved on: the page shows the item where it is now.
enhance(document, (panel) => {
  if (panel?.dataset.moved === undefined) return;
  const notice = panel.querySelector(".notice")?.textContent ?? "";
  location.assign(`${location.pathname}?notice=${encodeURIComponent(notice)}`);
});

client.subscribe(`item:${boot.item}`, {
  onSnapshot: (snap) => {
    if (!first) note("This item changed while you were offline.");
    first = false;
    booking = snap.item.booking;
  },
  onEvent: (event) => {
    switch (event.kind) {
      case "item_moved":
        note(`${event.entry.by_name} moved it (${event.entry.label}).`);
        refreshPanel();
        break;
      case "item_changed":
        // A booking change (a hold placed, confirmed, run out) shows in the panel.
        if (JSON.stringify(event.item.booking) !== JSON.stringify(booking)) refreshPanel();
        else note("It was changed.");
        booking = event.item.booking;
        break;
      case "commented": {
        const c = event.comment;
        const li = document.createElement("li");
        const who = document.createElement("strong");
        who.textContent = c.by_name;
        const body = document.createElement("p");
        body.textContent = c.body;
        li.append(who, " ", body);
        document.getElementById("comments")?.append(li);
        break;
      }
    }
  },
});
