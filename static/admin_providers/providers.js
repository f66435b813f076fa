// The admin's provider screens: live status on the dashboard and detail page, live migration
// progress, and copying the webhook URL. Plain JavaScript, no dependencies.
(function () {
  "use strict";
  var STATUS_KEYS = ["active", "configuring", "degraded", "down", "error", "inactive"];
  var POLL_MS = 3000;
  // A migration's steps take about a second each on the embedded default: poll often enough to
  // show each of them while it runs.
  var MIGRATION_POLL_MS = 400;

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); });
  }

  function applyStatus(card, row) {
    var badge = card.querySelector("[data-status-badge]");
    if (badge) {
      STATUS_KEYS.forEach(function (key) { badge.classList.remove("pm-status-" + key); });
      badge.classList.add("pm-status-" + row.status.key);
      badge.querySelector("[data-status-symbol]").textContent = row.status.symbol;
      badge.querySelector("[data-status-label]").textContent = row.status.label;
    }
    var primary = card.querySelector("[data-primary-badge]");
    if (primary) { primary.hidden = !row.is_primary; }
    card.classList.toggle("is-primary", row.is_primary);
    var health = card.querySelector("[data-health]");
    if (health) {
      health.textContent = row.health_text;  // worded by the server, in the page's language
      if (row.checked_full) { health.title = row.checked_full; } else { health.removeAttribute("title"); }
    }
  }

  function pollStatus(root) {
    var url = root.getAttribute("data-status-url");
    function tick() {
      getJSON(url).then(function (data) {
        data.integrations.forEach(function (row) {
          document.querySelectorAll('[data-integration="' + row.id + '"]').forEach(function (card) { applyStatus(card, row); });
        });
        root.setAttribute("data-refreshed", new Date().toISOString());
      }).catch(function () { /* keep the last known status; try again on the next tick */ })
        .then(function () { window.setTimeout(tick, POLL_MS); });
    }
    window.setTimeout(tick, POLL_MS);
  }

  function pollMigration(root) {
    var url = root.getAttribute("data-migration-status-url");
    var bar = root.querySelector("progress");
    var text = root.querySelector("[data-progress-text]");
    var state = root.querySelector("[data-state]");
    var log = root.querySelector("[data-log]");
    var steps = root.querySelector("[data-steps]");
    function renderSteps(rows) {
      rows.forEach(function (row) {
        var li = steps.querySelector('[data-step="' + row.key + '"]');
        if (!li) { return; }
        li.className = "pm-exec-" + row.state;
        li.querySelector("[data-step-symbol]").textContent = row.symbol;
        li.querySelector("[data-step-state]").textContent = row.state_label;
        li.querySelector("[data-step-detail]").textContent = row.detail ? " · " + row.detail : "";
      });
    }
    function render(data) {
      bar.value = data.progress;
      text.textContent = data.progress + " %";
      state.textContent = data.state_label;
      if (steps && data.steps) { renderSteps(data.steps); }
      if (log) {
        log.innerHTML = "";
        data.log.forEach(function (entry) {
          var li = document.createElement("li");
          var when = entry.at.slice(11, 19);  // as the server writes it (UTC, HH:MM:SS)
          li.textContent = when + " — " + entry.step + ": " + entry.outcome + (entry.detail ? " (" + entry.detail + ")" : "");
          if (entry.outcome === "failed") { li.className = "outcome-failed"; }
          log.appendChild(li);
        });
      }
    }
    function tick() {
      getJSON(url).then(function (data) {
        render(data);
        if (data.finished) { window.location.reload(); return; }
        window.setTimeout(tick, MIGRATION_POLL_MS);
      }).catch(function () { window.setTimeout(tick, 2000); });
    }
    tick();
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy-target"));
        var value = source.textContent.trim();
        var label = button.textContent;
        var done = function () {
          button.textContent = button.getAttribute("data-copied-label") || label;
          window.setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(value).then(done);
        } else {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected for a manual copy */ }
        }
      });
    });
  }

  // A button with data-busy-label (a connection test) says what is happening while the request
  // runs, and the form is not sent twice.
  function busyButtons() {
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
        var button = event.submitter;
        if (!button || !button.hasAttribute("data-busy-label")) { return; }
        form.setAttribute("aria-busy", "true");
        button.textContent = button.getAttribute("data-busy-label");
        button.classList.add("pm-busy");
        var status = form.querySelector("[data-busy-region]");
        if (status) { status.textContent = button.getAttribute("data-busy-status") || button.getAttribute("data-busy-label"); status.hidden = false; }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    busyButtons();
    var statusRoot = document.querySelector("[data-status-url]");
    if (statusRoot) { pollStatus(statusRoot); }
    var migrationRoot = document.querySelector("[data-migration-status-url][data-live]");
    if (migrationRoot) { pollMigration(migrationRoot); }
    copyButtons();
  });
})();
