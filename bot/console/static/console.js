// The console's only script besides htmx: no inline script is allowed (CSP).
document.addEventListener("DOMContentLoaded", () => {
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", () => window.print());
  const webapp = document.getElementById("webapp");
  if (webapp) {
    // Telegram passes the signed init data in the URL's fragment (never sent to a server).
    const data = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData") || "";
    fetch(webapp.dataset.login, {method: "POST", body: new URLSearchParams({init_data: data})})
      .then((r) => { if (r.ok) location.replace("/"); else webapp.textContent = webapp.dataset.failed; });
  }
});

// A refresh that fails (the server restarting, the database away) says so, instead of
// leaving a worklist that looks current but is not.
document.addEventListener("htmx:responseError", () => {
  const note = document.getElementById("stale") || document.createElement("p");
  note.id = "stale";
  note.className = "error";
  note.setAttribute("role", "alert");
  note.textContent = document.body.dataset.stale;
  document.querySelector("main").prepend(note);
});
document.addEventListener("htmx:sendError", () => document.dispatchEvent(new Event("htmx:responseError")));
