// Timekeeper console (templates/leagues/console.html, webapp/leagues/console_views.py).
// The attempt's state lives on the server; this page shows it and sends actions with the version it
// last saw (expected_version). A 409 means another console acted first: the page takes the state the
// server sent and says so. The race timer counts down locally from the server's numbers, corrected by
// the offset between the server's clock and ours. The event's live socket (/ws/events/<id>/) tells the
// page that something changed (a lap from the other console or a timer device): it re-reads the state.
// A failed read is retried; a failed action is resent with the same expected_version, so a request
// whose answer was lost can never count twice.
(function () {
  "use strict";
  var root = document.querySelector("[data-console]");
  if (!root) return;
  var $ = function (sel) { return root.querySelector(sel); };
  var stateUrl = root.getAttribute("data-state-url");
  var createUrl = root.getAttribute("data-create-url");
  var actionUrl = root.getAttribute("data-action-url"); // .../attempts/0/action/
  var csrf = root.querySelector("[name=csrfmiddlewaretoken]").value;
  var setup = JSON.parse(document.getElementById("console-setup").textContent);
  var state = JSON.parse(document.getElementById("console-state").textContent);
  var offset = 0; // server clock minus ours, in seconds
  var busy = false;
  var shownVersion = null;
  var pinned = false; // the timekeeper picked an older attempt: do not follow new ones
  var messageTimer = null;

  // -- helpers --------------------------------------------------------------------------------
  function serverNow() { return Date.now() / 1000 + offset; }
  function clock(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
    // Whole tenths first, so 59.96 s reads 1:00.0 and never 0:60.0.
    var tenths = Math.max(0, Math.round(seconds * 10));
    var m = Math.floor(tenths / 600), s = (tenths - m * 600) / 10;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
  function say(text, kind, sticky) {
    var box = $("[data-message]");
    box.textContent = text;
    box.className = "console-message " + (kind || "info");
    box.hidden = !text;
    box.setAttribute("data-kind", kind || "info");
    if (messageTimer) clearTimeout(messageTimer);
    if (text && !sticky) messageTimer = setTimeout(function () { box.hidden = true; }, 8000);
  }
  function setConn(text, ok) {
    var c = $("[data-conn]");
    c.textContent = text;
    c.className = "console-conn " + (ok ? "ok" : "down");
  }

  // -- talking to the server ------------------------------------------------------------------
  function request(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  // Read the state, retrying through a network blip (0.5, 1, 2, 4, 5, 5... s).
  var reading = null;
  function fetchState() {
    if (reading) { reading.again = true; return reading.promise; }
    var attemptId = state.attempt ? state.attempt.id : null;
    var url = stateUrl + (attemptId ? "?attempt=" + attemptId : "");
    var job = { again: false };
    reading = job;
    job.promise = (async function () {
      var delay = 500;
      for (;;) {
        try {
          var answer = await request(url);
          if (answer.status === 200) {
            setConn(socketOpen ? "Live" : "Polling", true);
            apply(answer.body.state);
            break;
          }
          if (answer.status === 404) { // the attempt is gone (or our access): show the event's default
            url = stateUrl;
            continue;
          }
        } catch (e) { /* network: retry below */ }
        setConn("Connection lost: retrying…", false);
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
      reading = null;
      if (job.again) return fetchState();
    })();
    return job.promise;
  }

  async function post(url, payload) {
    // An action is resent after a network failure with the same body and expected_version: if the
    // first one did arrive, the server answers 409 instead of recording it twice.
    var delay = 400;
    for (var tries = 0; ; tries++) {
      try {
        // A resend says so: the server then explains a refusal as a lost answer, not a double press.
        var body = tries > 0 ? Object.assign({}, payload, { resent: true }) : payload;
        return await request(url, {
          method: "POST", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        });
      } catch (e) {
        if (tries >= 5) throw e;
        setConn("Connection lost: resending…", false);
        await sleep(delay);
        delay = Math.min(delay * 2, 4000);
      }
    }
  }

  var LABELS = {
    lap: "Lap", start: "Start", pause: "Pause", resume: "Resume", end: "End", add_reset: "Reset +",
    remove_reset: "Reset −", dnf: "DNF", undo: "Undo", throttle: "Throttle", invalidate_lap: "Invalidate",
    restore_lap: "Restore", ignore_crossing: "Ignore crossing", restore_crossing: "Restore crossing",
  };

  async function act(action, extra) {
    if (!state.attempt || busy) return;
    busy = true;
    root.setAttribute("data-busy", "1");
    var payload = Object.assign({ action: action, expected_version: state.attempt.version }, extra || {});
    var url = actionUrl.replace("/attempts/0/", "/attempts/" + state.attempt.id + "/");
    try {
      var answer = await post(url, payload);
      setConn(socketOpen ? "Live" : "Polling", true);
      if (answer.body.state) apply(answer.body.state);
      if (answer.status === 200) {
        say(LABELS[action] + " recorded.", "ok");
      } else if (answer.status === 409) {
        say(answer.body.error, "warn", true);
      } else if (answer.status === 400 && answer.body.needs_confirmation) {
        busy = false;
        root.removeAttribute("data-busy");
        confirmLap(answer.body);
        return;
      } else if (answer.body.error) {
        say(answer.body.error, "error", true);
      } else {
        say("The server refused this (" + answer.status + "). Reload the page.", "error", true);
      }
    } catch (e) {
      say("No connection: nothing was recorded. Press again once the connection is back.", "error", true);
      fetchState();
    } finally {
      busy = false;
      root.removeAttribute("data-busy");
    }
  }

  function confirmLap(answer) {
    var dialog = $("[data-confirm-dialog]");
    $("[data-confirm-text]").textContent = answer.error;
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue === "confirm") act("lap", { confirm: true, capture: answer.capture });
      else say("The lap was not recorded.", "info");
    };
    dialog.showModal();
  }

  function askReason(title, then) {
    var dialog = $("[data-reason-dialog]");
    var input = $("[data-reason-input]");
    $("[data-reason-title]").textContent = title;
    input.value = "";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue === "ok" && input.value.trim()) then(input.value.trim());
    };
    dialog.showModal();
    input.focus();
  }

  // -- showing the state ----------------------------------------------------------------------
  var ENABLED = {
    ready: ["start", "dnf"],
    running: ["lap", "pause", "end", "add_reset", "remove_reset", "dnf"],
    paused: ["resume", "end", "add_reset", "remove_reset", "dnf"],
    finished: [], dnf: [],
  };

  function apply(next) {
    offset = next.server_time - Date.now() / 1000;
    var previous = state.attempt;
    state = next;
    // Follow the team put on track on another console, unless the timekeeper chose an older attempt.
    var newest = next.attempts.length ? next.attempts[0] : null;
    var current = next.attempt;
    if (!pinned && newest && (!current || current.id !== newest.id) &&
        (!current || ["finished", "dnf"].indexOf(current.status) >= 0) &&
        ["ready", "running", "paused"].indexOf(newest.status) >= 0) {
      state.attempt = { id: newest.id, version: -1, laps: [], crossings: [] };
      fetchState();
      return;
    }
    render(previous);
  }

  function render(previous) {
    var a = state.attempt;
    root.setAttribute("data-attempt-id", a ? a.id : "");
    $("[data-attempt-box]").hidden = !a;
    $("[data-laps-box]").hidden = !a;
    renderAttempts();
    if (!a) return;
    root.setAttribute("data-version", a.version);
    root.setAttribute("data-attempt-status", a.status);
    $("[data-team-name]").textContent = a.team.name;
    var where = ["attempt " + a.number];
    if (a.round) where.unshift(a.round.name);
    if (a.heat) where.push("heat " + a.heat);
    $("[data-attempt-where]").textContent = "(" + where.join(" · ") + ")";
    var pill = $("[data-status]");
    pill.textContent = a.status_label;
    pill.className = "pill pill-" + (a.status === "running" ? "running" : a.status === "ready" ? "open" : "finished");
    $("[data-resets]").textContent = a.current_resets;
    var counted = a.laps.filter(function (l) { return l.valid; }).length;
    $("[data-lap-count]").textContent = counted + (counted !== a.laps.length ? " valid / " + a.laps.length : "");
    var enabled = ENABLED[a.status] || [];
    root.querySelectorAll("[data-action]").forEach(function (b) {
      var name = b.getAttribute("data-action");
      b.disabled = name === "undo" ? !a.undo : enabled.indexOf(name) < 0;
    });
    $("[data-undo-hint]").textContent = a.undo ? "Undo reverts: " + a.undo.action + " (" + a.undo.by + ")." : "";
    var throttle = $("[data-throttle]");
    if (document.activeElement !== throttle) throttle.value = a.throttle_percent === null ? "" : a.throttle_percent;
    if (shownVersion !== a.version || !previous || previous.id !== a.id) {
      renderLaps(a);
      renderCrossings(a);
      shownVersion = a.version;
    }
    tick();
  }

  function renderLaps(a) {
    var body = $("[data-laps]");
    var rows = document.createDocumentFragment();
    a.laps.forEach(function (lap) {
      var tr = el("tr");
      tr.setAttribute("data-lap-id", lap.id);
      tr.setAttribute("data-lap-number", lap.number);
      if (!lap.valid) tr.className = "invalid";
      tr.appendChild(el("td", "#" + lap.number, "num"));
      tr.appendChild(el("td", lap.time_s.toFixed(3) + " s", "num lap-time"));
      tr.appendChild(el("td", String(lap.resets), "num"));
      var status = lap.valid ? (lap.confirmed_implausible ? "valid (confirmed fast)" : "valid") : "invalid: " + (lap.reason || "too many resets");
      tr.appendChild(el("td", status, "lap-status"));
      tr.appendChild(el("td", lap.source_label, "muted small"));
      var td = el("td", null, "row-actions");
      var button = el("button", lap.valid ? "Invalidate" : "Restore", "button small ghost");
      button.type = "button";
      button.addEventListener("click", function () {
        if (lap.valid) {
          askReason("Invalidate lap " + lap.number + " (" + lap.time_s.toFixed(3) + " s)", function (reason) {
            act("invalidate_lap", { lap_id: lap.id, reason: reason });
          });
        } else {
          askReason("Restore lap " + lap.number + " (" + lap.time_s.toFixed(3) + " s)", function (reason) {
            act("restore_lap", { lap_id: lap.id, reason: reason });
          });
        }
      });
      td.appendChild(button);
      tr.appendChild(td);
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    $("[data-no-laps]").hidden = a.laps.length > 0;
  }

  function renderCrossings(a) {
    $("[data-crossings-box]").hidden = !a.crossings.length;
    var body = $("[data-crossings]");
    var rows = document.createDocumentFragment();
    a.crossings.forEach(function (c) {
      var tr = el("tr");
      tr.setAttribute("data-crossing-id", c.id);
      tr.appendChild(el("td", c.device + (c.sensor ? " · " + c.sensor : "")));
      tr.appendChild(el("td", (c.device_time_us / 1e6).toFixed(3) + " s", "num"));
      tr.appendChild(el("td", c.status_label, "crossing-status"));
      tr.appendChild(el("td", c.lap ? "#" + c.lap : "", "num"));
      var td = el("td", null, "row-actions");
      var ignorable = c.status === "counted";
      var restorable = c.status === "ignored" || c.status === "debounced";
      if (ignorable || restorable) {
        var button = el("button", ignorable ? "Ignore" : "Restore", "button small ghost");
        button.type = "button";
        button.addEventListener("click", function () {
          askReason((ignorable ? "Ignore" : "Count") + " the crossing at " + (c.device_time_us / 1e6).toFixed(3) + " s",
            function (reason) {
              act(ignorable ? "ignore_crossing" : "restore_crossing", { crossing_id: c.id, reason: reason });
            });
        });
        td.appendChild(button);
      }
      tr.appendChild(td);
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
  }

  function renderAttempts() {
    var list = $("[data-attempts]");
    var items = document.createDocumentFragment();
    state.attempts.forEach(function (item) {
      var li = el("li");
      var link = el("button", item.team + " · " + (item.round ? item.round + " · " : "") + "attempt " + item.number +
        (item.heat ? " · heat " + item.heat : ""), "linkish");
      link.type = "button";
      if (state.attempt && state.attempt.id === item.id) li.className = "current";
      link.addEventListener("click", function () {
        pinned = !(["ready", "running", "paused"].indexOf(item.status) >= 0);
        state.attempt = { id: item.id, version: -1, laps: [], crossings: [] };
        fetchState();
      });
      li.appendChild(link);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", item.status_label, "pill small"));
      items.appendChild(li);
    });
    list.replaceChildren(items);
  }

  // The race timer and the lap in progress, counted locally from the server's numbers.
  function tick() {
    var a = state.attempt;
    if (!a || a.version < 0) return;
    var now = serverNow();
    var remaining = a.time_limit_s, lap = null;
    if (a.started_at !== null) {
      var until = a.ended_at !== null ? a.ended_at : a.paused_at !== null ? a.paused_at : now;
      remaining = a.time_limit_s - (until - a.started_at - a.paused_total_s);
    }
    if (a.lap_started_at !== null && !a.timed_by_device && (a.status === "running" || a.status === "paused")) {
      var lapUntil = a.paused_at !== null ? a.paused_at : now;
      lap = lapUntil - a.lap_started_at - a.lap_paused_s;
    }
    var box = $("[data-remaining]");
    // Time up: a lap completed now is recorded invalid ("completed after the race time"); the attempt is
    // never ended behind the timekeeper's back: the console says so and offers End.
    var timeUp = remaining <= 0 && (a.status === "running" || a.status === "paused");
    box.textContent = clock(Math.max(0, remaining)) + (timeUp ? " · time up" : "");
    box.classList.toggle("time-up", timeUp);
    var hint = $("[data-time-up]");
    if (hint) hint.hidden = !timeUp;
    $("[data-lap-clock]").textContent = a.timed_by_device ? "timer device" : lap === null ? "–" : clock(lap);
  }
  setInterval(tick, 100);

  // -- controls -------------------------------------------------------------------------------
  root.querySelectorAll("[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-action");
      button.blur(); // a focused button must not take the next space press as a click too
      if (action === "dnf") {
        askReason("Did not finish: " + state.attempt.team.name, function (reason) { act("dnf", { reason: reason }); });
      } else {
        act(action);
      }
    });
  });

  $("[data-throttle-form]").addEventListener("submit", function (e) {
    e.preventDefault();
    var value = $("[data-throttle]").value;
    act("throttle", { percent: value === "" ? null : parseInt(value, 10) });
  });

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      target.isContentEditable || target.closest("dialog[open]"));
  }
  function pressed(action) {
    var button = root.querySelector('[data-action="' + action + '"]');
    if (!button || button.disabled) return;
    button.classList.add("pressed");
    setTimeout(function () { button.classList.remove("pressed"); }, 150);
    act(action);
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e.target) || e.altKey || e.metaKey) return;
    if (e.ctrlKey && (e.key === "z" || e.key === "Z")) { e.preventDefault(); pressed("undo"); return; }
    if (e.ctrlKey) return;
    if (e.key === " " || e.code === "Space") { e.preventDefault(); if (!e.repeat) pressed("lap"); }
    else if (e.key === "+" || e.key === "=") { e.preventDefault(); pressed("add_reset"); }
    else if (e.key === "-" || e.key === "_") { e.preventDefault(); pressed("remove_reset"); }
    else if (e.key === "u" || e.key === "U") { e.preventDefault(); pressed("undo"); }
  });
  // Space on a focused button would click it on keyup as well: the keydown above already acted.
  document.addEventListener("keyup", function (e) {
    if ((e.key === " " || e.code === "Space") && !typing(e.target)) e.preventDefault();
  });

  // Who is on track: the round's heats (or teams), then the team.
  var roundSelect = $("[data-round]"), heatSelect = $("[data-heat]"), teamSelect = $("[data-team]");
  function options(select, items, label) {
    select.replaceChildren();
    items.forEach(function (item) {
      var option = el("option", label(item));
      option.value = item.id;
      select.appendChild(option);
    });
  }
  function currentRound() {
    var id = parseInt(roundSelect.value || "0", 10);
    return setup.rounds.filter(function (r) { return r.id === id; })[0] || null;
  }
  function refreshTeams() {
    var r = currentRound();
    var heats = r ? r.heats : [];
    $("[data-heat-field]").hidden = !heats.length;
    if (heats.length) {
      var heat = heats.filter(function (h) { return String(h.id) === heatSelect.value; })[0] || heats[0];
      options(teamSelect, heat.teams, function (t) { return t.name; });
    } else {
      options(teamSelect, r ? r.teams : setup.teams, function (t) { return t.name; });
    }
  }
  roundSelect.addEventListener("change", function () {
    var r = currentRound();
    options(heatSelect, r ? r.heats : [], function (h) {
      return h.key + ": " + h.teams.map(function (t) { return t.name; }).join(" vs ");
    });
    refreshTeams();
  });
  heatSelect.addEventListener("change", refreshTeams);
  refreshTeams();

  $("[data-setup-form]").addEventListener("submit", async function (e) {
    e.preventDefault();
    if (busy) return;
    busy = true;
    var r = currentRound();
    var payload = { team_id: teamSelect.value, round_id: r ? r.id : null,
                    heat_id: r && r.heats.length ? heatSelect.value : null };
    try {
      var answer = await post(createUrl, payload);
      if (answer.status === 201) {
        pinned = false;
        apply(answer.body.state);
        if (answer.body.notice) {
          say(answer.body.notice, "warn", true); // another team still runs: it must be ended first
        } else {
          say(answer.body.state.attempt.team.name + " is on the console: press Start when the car goes.", "ok");
        }
      } else {
        say(answer.body.error || "The server refused this (" + answer.status + ").", "error", true);
      }
    } catch (err) {
      say("No connection: the team was not put on track. Try again.", "error", true);
    } finally {
      busy = false;
    }
  });

  // -- the live socket: something changed -> read the state again -------------------------------
  var socketOpen = false, socketRetry = 1000, pollTimer = null;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try { socket = new WebSocket(scheme + location.host + root.getAttribute("data-socket")); }
    catch (e) { schedule(); return; }
    socket.onopen = function () {
      socketOpen = true;
      socketRetry = 1000;
      root.setAttribute("data-live", "1");
      setConn("Live", true);
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
      fetchState();
    };
    socket.onmessage = function () { fetchState(); };
    socket.onclose = function () {
      socketOpen = false;
      root.removeAttribute("data-live");
      setConn("Polling", true);
      if (!pollTimer) pollTimer = setInterval(fetchState, 3000);
      schedule();
    };
  }
  function schedule() {
    setTimeout(connect, socketRetry);
    socketRetry = Math.min(socketRetry * 2, 15000);
  }
  window.addEventListener("online", fetchState);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) fetchState(); });

  apply(state);
  connect();
})();
