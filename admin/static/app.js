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
      var byFeature = {};
      (o.usage_per_feature_per_day || []).forEach(function (u) {
        byFeature[u.feature] = byFeature[u.feature] || {};
        byFeature[u.feature][u.day] = u.events;
      });
      new Chart(document.getElementById("chart-usage"), {
        type: "bar",
        data: { labels: days.map(function (d) { return d.slice(5); }),
                datasets: Object.keys(byFeature).sort().map(function (f) {
                  return { label: f, data: days.map(function (d) { return byFeature[f][d] || 0; }) };
                }) },
        options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
      });
    })
    .catch(function () { /* the figures above still show */ });
})();
