// The item page (/items/{id}): follows `item:{id}` and shows moves, changes and
// comments made elsewhere as they happen (a banner offers to reload the form fields).
import { sharedClient } from "/static/js/cflows.js";

const boot = JSON.parse(document.getElementById("item-boot").textContent);
const status = document.getElementById("item-step");
const client = sharedClient();
let first = true;

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

client.subscribe(`item:${boot.item}`, {
  onSnapshot: () => {
    if (!first) note("This item changed while you were offline.");
    first = false;
  },
  onEvent: (event) => {
    switch (event.kind) {
      case "item_moved":
        note(`${event.entry.by_name} moved it (${event.entry.label}).`);
        break;
      case "item_changed":
        note("It was changed.");
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
