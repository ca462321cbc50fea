// The fleet list keeps itself current: every few seconds it fetches the table alone
// (/fleet/-/rows, same filters and sort) and swaps it in, so a gateway's Last Will shows
// within seconds without a reload. No library, no inline code (the page's CSP allows only
// this file). Without JavaScript the page still works through its reload link.
(function () {
  "use strict";
  var live = document.getElementById("fleet-live");
  var note = document.getElementById("fleet-live-note");
  if (!live || !window.fetch || !window.DOMParser) {
    return;
  }
  var src = live.getAttribute("data-src");
  var every = parseInt(live.getAttribute("data-every-ms"), 10) || 2000;
  var busy = false;
  var timer = null;

  function say(which) {
    if (note) {
      note.textContent = note.getAttribute("data-" + which) || "";
    }
  }

  function poll() {
    // A hidden tab need not load central; it catches up when it is shown again.
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(src, { credentials: "same-origin", cache: "no-store", redirect: "follow" })
      .then(function (res) {
        // Signed out (the session expired): the answer is the login page, not rows.
        if (res.redirected || res.status === 401 || res.status === 403) {
          window.clearInterval(timer);
          say("ended");
          return null;
        }
        if (!res.ok) {
          throw new Error("HTTP " + res.status);
        }
        return res.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        // Parsed into an inert document first: nothing in it runs, then its nodes move in.
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = document.createDocumentFragment();
        while (doc.body.firstChild) {
          fresh.appendChild(doc.body.firstChild);
        }
        live.replaceChildren(fresh);
        say("live");
      })
      .catch(function () {
        say("stale");
      })
      .then(function () {
        busy = false;
      });
  }

  say("live");
  timer = window.setInterval(poll, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      poll();
    }
  });
})();
