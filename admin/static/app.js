// Charts on the overview, from /admin/overview.json (the CSP allows no
// inline script, so the page carries no data of its own).
(function () {
  "use strict";
  if (!document.getElementById("chart-activations") || typeof Chart === "undefined") return;
  fetch("/admin/overview.json", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(function (o) {
      var line = function (id, series, label) {
        new Chart(document.getElementById(id), {
          type: "line",
          data: { labels: series.map(function (d) { return d.day.slice(5); }),
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
        data: { labels: days.map(function (d) { return d.slice(5); }),
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
