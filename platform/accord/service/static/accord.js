// Live job progress for the dashboard: poll the JSON API (the sign-in cookie is sent along)
// and update every .progress element on the page. No framework, no build step.
(function () {
  "use strict";
  var TERMINAL = { succeeded: 1, failed: 1, cancelled: 1 };

  function render(el, p) {
    var fill = el.querySelector(".fill");
    var pct = p.total ? Math.min(100, (100 * p.done) / p.total) : (p.status === "succeeded" ? 100 : 0);
    fill.style.width = pct.toFixed(1) + "%";
    fill.className = "fill status-" + p.status;
    el.querySelector(".count").textContent = p.done + "/" + p.total;
    var status = el.querySelector(".status");
    status.textContent = p.status;
    status.className = "status status-" + p.status;
    el.querySelector(".message").textContent = p.message || "";
    el.setAttribute("data-status", p.status);
  }

  function poll(el, detail) {
    var id = el.getAttribute("data-job");
    fetch("/api/jobs/" + id + "/progress", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        render(el, p);
        if (detail) {
          var attempts = document.getElementById("job-attempts");
          if (attempts) { attempts.textContent = p.attempts; }
          var err = document.getElementById("job-error");
          if (err && p.error) { err.textContent = p.error; err.hidden = false; }
        }
        if (TERMINAL[p.status]) {
          if (detail) { setTimeout(function () { location.reload(); }, 300); }
          return;
        }
        setTimeout(function () { poll(el, detail); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(el, detail); }, 3000); });
  }

  window.accord = {
    followJobs: function (options) {
      var detail = options && options.detail;
      var els = document.querySelectorAll(".progress[data-job]");
      Array.prototype.forEach.call(els, function (el) {
        if (!TERMINAL[el.getAttribute("data-status")]) { poll(el, detail); }
      });
    }
  };
})();
