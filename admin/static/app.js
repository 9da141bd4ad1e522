// Charts on the overview, from /admin/overview.json (the CSP allows no
// inline script, so the page carries no data of its own).
(function () {
  "use strict";
  if (!document.getElementById("chart-activations") || typeof Chart === "undefined") return;
  fetch("/admin/overview.json", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(function (o) {
      // Today's figures are partial: its label says so.
      var last = (o.activations_per_day || []).length - 1;
      var dayLabel = function (d, i) { return i === last ? "today" : d.day.slice(5); };
      var line = function (id, series, label) {
        new Chart(document.getElementById(id), {
          type: "line",
          data: { labels: series.map(dayLabel),
                  datasets: [{ label: label, data: series.map(function (d) { return d.count; }), tension: 0.25, fill: true }] },
          options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
        });
      };
      line("chart-activations", o.activations_per_day || [], "activations");
      line("chart-validations", o.validations_per_day || [], "validations");
      line("chart-devices", o.active_devices_per_day || [], "devices");
      var days = (o.activations_per_day || []).map(function (d) { return d.day; });
      // Maps, not objects: feature names come from apps, and a name such
      // as __proto__ must stay a name, never reach Object.prototype.
      var byFeature = new Map();
      (o.usage_per_feature_per_day || []).forEach(function (u) {
        if (!byFeature.has(u.feature)) byFeature.set(u.feature, new Map());
        byFeature.get(u.feature).set(u.day, u.events);
      });
      new Chart(document.getElementById("chart-usage"), {
        type: "bar",
        data: { labels: days.map(function (d, i) { return i === last ? "today" : d.slice(5); }),
                datasets: Array.from(byFeature.keys()).sort().map(function (f) {
                  var perDay = byFeature.get(f);
                  return { label: f, data: days.map(function (d) { return perDay.get(d) || 0; }) };
                }) },
        options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
      });
    })
    .catch(function () { /* the figures above still show */ });
})();

// The sign-in page warns when the page is not a secure context: the session
// cookie is Secure, so a browser on plain HTTP (not localhost) drops it and
// the sign-in seems to do nothing.
(function () {
  "use strict";
  var note = document.getElementById("insecure-context");
  if (note && !window.isSecureContext) note.hidden = false;
})();

// Copy buttons: a license key or a new token to the clipboard, with the
// button saying so (for a screen reader too).
(function () {
  "use strict";
  document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var text = b.getAttribute("data-copy");
      var done = function () { var was = b.textContent; b.textContent = "Copied"; setTimeout(function () { b.textContent = was; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { b.textContent = "Select and copy"; });
      } else {
        b.textContent = "Select and copy";
      }
    });
  });
})();

// The new-subscription form: picking a plan fills the tier, seats,
// features, grace and offline days with the plan's, so that what the form
// shows is what is granted; the fields stay editable.
(function () {
  "use strict";
  var plan = document.getElementById("plan");
  if (!plan) return;
  var set = function (name, value) {
    var el = document.querySelector("#new-subscription [name=" + name + "]");
    if (el) el.value = value;
  };
  plan.addEventListener("change", function () {
    var o = plan.options[plan.selectedIndex];
    if (!o || !o.value) return;
    set("tier", o.getAttribute("data-tier"));
    set("max_devices", o.getAttribute("data-seats"));
    set("features", o.getAttribute("data-features"));
    set("grace_period_days", o.getAttribute("data-grace"));
    set("max_offline_days", o.getAttribute("data-offline"));
    set("product", o.getAttribute("data-product"));
  });
})();

// "Download" buttons for text the page holds (a sync response): a file
// made in the browser, so the server keeps no copy of it.
(function () {
  "use strict";
  document.querySelectorAll("[data-download]").forEach(function (b) {
    b.addEventListener("click", function () {
      var src = document.getElementById(b.getAttribute("data-download"));
      if (!src) return;
      var url = URL.createObjectURL(new Blob([src.value], { type: "text/plain" }));
      var a = document.createElement("a");
      a.href = url;
      a.download = b.getAttribute("data-filename") || "download.txt";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  });
})();
