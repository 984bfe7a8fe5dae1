// Live event leaderboard: the event page, the venue's big screen and the streaming overlay.
// The server renders the first board; this script follows /ws/events/<id>/ and redraws the rows and
// the team on track (with its race timer counted down from the server's clock) on every change.
// When the socket cannot connect it polls the board's JSON instead, and keeps trying the socket.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-board]");
  if (!root) return;
  var rowsBody = root.querySelector("[data-board-rows]");
  var onTrackBox = root.querySelector("[data-on-track]");
  var statusBox = root.querySelector("[data-board-status]");
  var hiddenBox = root.querySelector("[data-board-hidden]");
  // The event page caches the board's HTML for everyone: the viewer's team comes from the page.
  var page = root.closest("[data-my-team-of-page]");
  var mineId = parseInt((page && page.getAttribute("data-my-team-of-page")) || root.getAttribute("data-my-team") || "0", 10);
  var maxRows = parseInt(root.getAttribute("data-max-rows") || "0", 10);
  var initial = document.getElementById("board-data");
  var board = initial ? JSON.parse(initial.textContent) : null;
  var previousRanks = {};
  var offset = 0; // server clock minus ours, in seconds
  var socket = null, retry = 1000, pollTimer = null;

  function fmt(seconds, digits) {
    if (seconds === null || seconds === undefined) return "";
    return seconds.toFixed(digits === undefined ? 3 : digits) + " s";
  }
  function clock(seconds) {
    // Whole tenths first, so 59.96 s reads 1:00.0 and never 0:60.0.
    var tenths = Math.max(0, Math.round(seconds * 10));
    var m = Math.floor(tenths / 600), s = (tenths - m * 600) / 10;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function renderRows(doc) {
    if (!rowsBody) return;
    var ranks = {};
    var fragment = document.createDocumentFragment();
    var rows = maxRows ? doc.rows.slice(0, maxRows) : doc.rows;
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-team-id", r.team_id);
      if (r.team_id === mineId) tr.classList.add("mine");
      var onTrack = doc.on_track && doc.on_track.team_id === r.team_id;
      if (onTrack) tr.classList.add("is-on-track");
      cell(tr, r.rank === null ? "–" : String(r.rank), "num rank");
      var before = previousRanks[r.team_id], change = "";
      if (r.rank !== null && before !== undefined && before !== null && before !== r.rank) {
        change = before > r.rank ? "▲" + (before - r.rank) : "▼" + (r.rank - before);
      }
      var changeCell = cell(tr, change, "change");
      if (change) changeCell.classList.add(change.charAt(0) === "▲" ? "up" : "down");
      var name = cell(tr, r.team, "team");
      if (onTrack) {
        var badge = document.createElement("span");
        badge.className = "pill pill-running";
        badge.textContent = "on track";
        name.appendChild(document.createTextNode(" "));
        name.appendChild(badge);
      }
      var score = cell(tr, r.score_s === null ? (r.place_text || "no score yet") : fmt(r.score_s), "num score");
      if (r.score_s === null) score.classList.add("muted");
      cell(tr, r.gap_s ? "+" + r.gap_s.toFixed(3) : "", "num gap");
      cell(tr, fmt(r.best_lap_s), "num best");
      cell(tr, r.valid_laps + " / " + r.laps, "num laps");
      cell(tr, String(r.resets), "num resets");
      cell(tr, r.tie_break || "", "tie-break muted");
      ranks[r.team_id] = r.rank;
      fragment.appendChild(tr);
    });
    rowsBody.replaceChildren(fragment);
    previousRanks = ranks;
  }

  function renderOnTrack(doc) {
    if (!onTrackBox) return;
    var t = doc.on_track;
    onTrackBox.hidden = !t;
    if (!t) return;
    onTrackBox.querySelector("[data-ot-team]").textContent = t.team;
    var where = [t.round, t.heat, "attempt " + t.number].filter(Boolean).join(" · ");
    onTrackBox.querySelector("[data-ot-where]").textContent = where;
    onTrackBox.querySelector("[data-ot-status]").textContent = t.status === "paused" ? "paused" : "racing";
    var resets = onTrackBox.querySelector("[data-ot-resets]");
    if (resets) resets.textContent = String(t.current_resets);
    var list = onTrackBox.querySelector("[data-ot-laps]");
    if (list) {
      var items = document.createDocumentFragment();
      t.laps.slice(-5).forEach(function (lap) {
        var li = document.createElement("li");
        li.textContent = "Lap " + lap.n + ": " + fmt(lap.time_s) + (lap.resets ? " (+" + lap.resets + " resets)" : "") +
          (lap.valid ? "" : " — invalid");
        items.appendChild(li);
      });
      list.replaceChildren(items);
    }
    tick();
  }

  function tick() {
    var t = board && board.on_track;
    if (!t || !onTrackBox) return;
    var now = Date.now() / 1000 + offset;
    var stop = t.status === "paused" && t.paused_at ? t.paused_at : now;
    var elapsed = t.started_at ? stop - t.started_at - t.paused_total_s : 0;
    var remaining = onTrackBox.querySelector("[data-ot-remaining]");
    if (remaining) remaining.textContent = clock(t.time_limit_s - elapsed);
    var lap = onTrackBox.querySelector("[data-ot-lap]");
    if (lap) lap.textContent = t.lap_started_at ? clock(stop - t.lap_started_at - t.lap_paused_s) : "–";
  }

  function render(doc) {
    board = doc;
    var roundPill = root.querySelector("[data-board-round]");
    if (roundPill) {
      roundPill.hidden = !doc.round;
      roundPill.textContent = (doc.round || "") + (doc.heat ? " · heat " + doc.heat : "");
    }
    root.setAttribute("data-board-version", String(doc.version));
    if (hiddenBox) hiddenBox.hidden = !doc.hidden;
    renderRows(doc);
    renderOnTrack(doc);
    var updated = root.querySelector("[data-board-updated]");
    if (updated) updated.textContent = new Date().toLocaleTimeString();
  }

  function setStatus(text, live) {
    if (!statusBox) return;
    statusBox.textContent = text;
    statusBox.className = "board-status " + (live ? "live" : "offline");
    root.setAttribute("data-board-live", live ? "1" : "0");
  }

  function poll() {
    fetch(root.getAttribute("data-board-json"), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) { if (doc && (!board || doc.version !== board.version)) render(doc); })
      .catch(function () {});
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.getAttribute("data-board-socket"));
    socket.onopen = function () {
      retry = 1000;
      setStatus("Live", true);
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    };
    socket.onmessage = function (message) {
      var doc = JSON.parse(message.data);
      if (doc.type !== "board") return;
      if (doc.sent_at) offset = doc.sent_at - Date.now() / 1000;
      render(doc);
    };
    socket.onclose = function (event) {
      if (event.code === 4404) { setStatus("This event is not available.", false); return; }
      setStatus("Reconnecting… (updating every 5 s meanwhile)", false);
      if (!pollTimer) pollTimer = setInterval(poll, 5000);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  if (board) render(board);
  setInterval(tick, 100);
  connect();
})();
