// Live job progress. The websocket only says "job N changed, here is its row"; on every (re)connect
// the server first sends a snapshot from the database, so a page never shows stale state for long.
// A job painted inside an element marked data-reload-when-done (a live job block, a table of rows)
// reloads the page once that job ends, so what the job made (plots, results, a ranking) appears.
(function () {
  "use strict";
  const tables = document.querySelectorAll("[data-live-jobs]");
  const detail = document.querySelector("[data-live-job]");
  // Tables of fixed rows (a grid search's runs): paint rows by job id, never add any.
  const rowTables = document.querySelectorAll("[data-live-job-rows]");
  if (!tables.length && !detail && !rowTables.length) return;
  let reloadTimer = null;

  const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
  let retryMs = 1000;

  function setText(root, field, text) {
    const el = root.querySelector(`[data-field="${field}"]`);
    if (el && el.textContent !== text) el.textContent = text;
  }

  function reloadWhenDone(root, wasFinished, job) {
    if (wasFinished || !FINISHED.has(job.status) || !root.closest("[data-reload-when-done]")) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => location.reload(), 800);
  }

  function paint(root, job) {
    const wasFinished = FINISHED.has(root.dataset.status);
    root.dataset.status = job.status;
    const status = root.querySelector('[data-field="status"]');
    if (status) {
      status.textContent = job.status_label;
      status.className = `status status-${job.status}`;
    }
    const bar = root.querySelector('[data-field="bar"]');
    if (bar) {
      bar.style.width = `${job.progress}%`;
      bar.parentElement.setAttribute("aria-valuenow", String(Math.round(job.progress)));
    }
    setText(root, "message", job.message || "");
    const error = root.querySelector('[data-field="error"]');
    if (error) {
      error.textContent = job.error || "";
      error.hidden = !job.error;
    }
    const metrics = root.querySelector('[data-field="metrics"]');
    if (metrics && job.metrics) {
      metrics.replaceChildren(...Object.entries(job.metrics).flatMap(([k, v]) => {
        const dt = document.createElement("dt"); dt.textContent = k;
        const dd = document.createElement("dd"); dd.textContent = typeof v === "number" ? +v.toFixed(4) : v;
        return [dt, dd];
      }));
    }
    if (FINISHED.has(job.status)) {
      const cancel = root.querySelector('[data-field="cancel"]');
      if (cancel) cancel.remove();
    }
    reloadWhenDone(root, wasFinished, job);
  }

  function rowFor(table, job) {
    let row = table.querySelector(`tr[data-job-id="${job.id}"]`);
    if (row || String(job.team_id || table.dataset.teamId) !== table.dataset.teamId) return row;
    // A job started elsewhere (another tab, a teammate): add its row at the top.
    const empty = table.querySelector("tr.empty");
    if (empty) empty.remove();
    row = document.createElement("tr");
    row.dataset.jobId = job.id;
    row.innerHTML = `<td><a></a></td><td><a></a></td><td><span data-field="status"></span></td>
      <td><div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div class="bar-fill" data-field="bar"></div></div>
      <small data-field="message"></small></td><td></td><td></td>`;
    const links = row.querySelectorAll("a");
    links[0].href = links[1].href = job.url;
    links[0].textContent = job.id;
    links[1].textContent = job.title || job.kind_label;
    table.tBodies[0].prepend(row);
    return row;
  }

  function apply(job) {
    // Pages that draw more than the job's row (an RL model's live charts) listen for this.
    document.dispatchEvent(new CustomEvent("pitlane:job", { detail: job }));
    tables.forEach((table) => {
      if (String(job.team_id) !== table.dataset.teamId) return;
      const row = rowFor(table, job);
      if (row) paint(row, job);
    });
    rowTables.forEach((table) => {
      const row = table.querySelector(`tr[data-job-id="${job.id}"]`);
      if (row) paint(row, job);
    });
    if (detail && String(job.id) === detail.dataset.liveJob) {
      paint(detail, job);
      if (FINISHED.has(job.status) || job.log_changed) refreshDetail();
    }
  }

  async function refreshDetail() {
    if (!detail) return;
    const response = await fetch(detail.dataset.stateUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const job = await response.json();
    paint(detail, job);
    setText(detail, "log", job.log_tail || "");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/jobs/`);
    socket.addEventListener("open", () => { retryMs = 1000; document.body.dataset.live = "on"; });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "snapshot") data.jobs.forEach(apply);
      else if (data.type === "job") apply(data.job);
    });
    socket.addEventListener("close", () => {
      document.body.dataset.live = "off";
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  connect();
  if (detail) setInterval(refreshDetail, 5000);
})();
