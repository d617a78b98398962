// Sandbox pages: refresh in place (the Refresh button and an optional
// auto-refresh) and filters that apply as you type, keeping the reader's
// place: the scroll position of the row at the top of the window, open
// details, the focus and text of the filter. Without JavaScript the Refresh
// link reloads and the filter form submits; nothing here is needed.
(function () {
  "use strict";
  var every = Number(document.body.getAttribute("data-refresh")) || 5000;
  var auto = document.getElementById("auto");
  var button = document.getElementById("refresh");
  var updated = document.getElementById("updated");
  var timer = 0, busy = false, again = false;

  // The first row whose top is in view (below the sticky header), and where.
  function anchor() {
    var header = document.querySelector("header.top");
    var min = header ? header.getBoundingClientRect().bottom : 0;
    var rows = document.querySelectorAll("main tr[id]");
    for (var i = 0; i < rows.length; i++) {
      var top = rows[i].getBoundingClientRect().top;
      if (top >= min) return top < window.innerHeight ? {id: rows[i].id, top: top} : null;
    }
    return null;
  }

  function swap(doc) {
    var cur = document.querySelector("main"), next = doc.querySelector("main");
    if (!cur || !next) return;
    var mark = anchor(), open = {};
    cur.querySelectorAll("details[id]").forEach(function (d) { open[d.id] = d.open; });
    next.querySelectorAll("details[id]").forEach(function (d) {
      if (d.id in open) d.open = open[d.id];
    });
    if (cur.getAttribute("data-shape") !== next.getAttribute("data-shape")) {
      cur.replaceWith(document.adoptNode(next));
    } else {
      next.querySelectorAll("[data-live]").forEach(function (n) {
        var old = document.getElementById(n.id);
        if (old) old.replaceWith(document.adoptNode(n));
      });
      // The status options carry counts.
      next.querySelectorAll("select[name]").forEach(function (s) {
        var c = cur.querySelector("select[name='" + s.name + "']");
        for (var i = 0; c && i < s.options.length && i < c.options.length; i++) {
          c.options[i].textContent = s.options[i].textContent;
        }
      });
    }
    if (mark) {
      var el = document.getElementById(mark.id);
      if (el) window.scrollBy(0, el.getBoundingClientRect().top - mark.top);
    }
    document.title = doc.title;
    var u = doc.getElementById("updated");
    if (u && updated) updated.textContent = u.textContent;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    clearTimeout(timer);
    fetch(location.href, {cache: "no-store", headers: {Accept: "text/html"}})
      .then(function (res) {
        return res.text().then(function (text) {
          if (!/^text\/html/.test(res.headers.get("Content-Type") || "")) throw new Error("HTTP " + res.status);
          swap(new DOMParser().parseFromString(text, "text/html"));
        });
      })
      .catch(function (e) { if (updated) updated.textContent = "refresh failed: " + e.message; })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); } else schedule();
      });
  }

  function schedule() {
    clearTimeout(timer);
    if (auto && auto.checked) {
      timer = setTimeout(function () { if (document.hidden) schedule(); else refresh(); }, every);
    }
  }

  if (button) button.addEventListener("click", function (e) { e.preventDefault(); refresh(); });
  if (auto) {
    auto.parentNode.hidden = false;
    try { auto.checked = localStorage.getItem("sandbox-auto-refresh") === "1"; } catch (e) { /* no storage */ }
    auto.addEventListener("change", function () {
      try { localStorage.setItem("sandbox-auto-refresh", auto.checked ? "1" : "0"); } catch (e) { /* no storage */ }
      schedule();
    });
    schedule();
  }

  // Filters, by delegation: a refresh can replace the whole of <main>.
  var typing = 0;
  function apply(form) {
    clearTimeout(typing);
    var parts = [];
    new FormData(form).forEach(function (v, k) {
      if (v !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    var url = form.getAttribute("action") + (parts.length ? "?" + parts.join("&") : "");
    history.replaceState(null, "", url);
    if (button) button.href = url;
    refresh();
  }
  function filterOf(e) { return e.target.closest && e.target.closest("form.filter"); }
  document.addEventListener("submit", function (e) {
    var f = filterOf(e);
    if (f) { e.preventDefault(); apply(f); }
  });
  document.addEventListener("change", function (e) {
    var f = filterOf(e);
    if (f && e.target.type !== "search") apply(f);
  });
  document.addEventListener("input", function (e) {
    var f = filterOf(e);
    if (f && e.target.type === "search") {
      clearTimeout(typing);
      typing = setTimeout(function () { apply(f); }, 250);
    }
  });
})();
