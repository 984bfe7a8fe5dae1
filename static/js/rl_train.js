// The RL training form's action space editor: a table of discrete actions (steering angle x speed;
// add/remove rows, presets) or the continuous ranges, kept in sync with the action_space JSON box,
// which stays the one value the server reads (and the whole editor without JavaScript). On a clone,
// every change asks the server what the new action space does to the cloned policy and shows it.
(function () {
  "use strict";
  const form = document.querySelector("[data-rl-train-form]");
  if (!form) return;
  const editor = form.querySelector("[data-action-space-editor]");
  const box = form.querySelector('textarea[name="action_space"]');
  const typeSelect = form.querySelector('select[name="action_space_type"]');
  const rows = editor.querySelector("[data-action-rows]");
  const discrete = editor.querySelector("[data-discrete-editor]");
  const continuous = editor.querySelector("[data-continuous-editor]");
  const presets = JSON.parse(document.getElementById("rl-presets").textContent);
  const limits = JSON.parse(document.getElementById("rl-limits").textContent);
  const planBox = form.querySelector("[data-clone-plan]");

  function parse() {
    try { return JSON.parse(box.value); } catch (e) { return null; }
  }

  function numberInput(value, min, max, label) {
    const input = document.createElement("input");
    input.type = "number"; input.step = "any"; input.min = String(min); input.max = String(max);
    input.value = value; input.required = true; input.setAttribute("aria-label", label);
    input.addEventListener("input", writeBack);
    return input;
  }

  function addRow(action) {
    const tr = document.createElement("tr");
    const index = document.createElement("td");
    const steer = document.createElement("td");
    const speed = document.createElement("td");
    const remove = document.createElement("td");
    steer.append(numberInput(action.steering_angle, -limits.max_steering_deg, limits.max_steering_deg, "Steering angle"));
    speed.append(numberInput(action.speed, limits.min_speed, limits.max_speed, "Speed"));
    const button = document.createElement("button");
    button.type = "button"; button.className = "button ghost small"; button.textContent = "Remove";
    button.addEventListener("click", () => { tr.remove(); renumber(); writeBack(); });
    remove.append(button);
    tr.append(index, steer, speed, remove);
    rows.append(tr);
    renumber();
  }

  function renumber() {
    rows.querySelectorAll("tr").forEach((tr, i) => { tr.cells[0].textContent = String(i); });
  }

  function showType() {
    const type = typeSelect.value;
    discrete.hidden = type !== "discrete";
    continuous.hidden = type !== "continuous";
  }

  function load(space) {
    rows.replaceChildren();
    if (Array.isArray(space)) {
      typeSelect.value = "discrete";
      space.forEach(addRow);
    } else if (space && typeof space === "object") {
      typeSelect.value = "continuous";
      continuous.querySelectorAll("[data-range]").forEach((input) => {
        const [key, end] = input.dataset.range.split(".");
        input.value = space[key] ? space[key][end] : "";
      });
    }
    showType();
  }

  function current() {
    if (typeSelect.value === "discrete") {
      return Array.from(rows.querySelectorAll("tr")).map((tr) => {
        const inputs = tr.querySelectorAll("input");
        return { steering_angle: Number(inputs[0].value), speed: Number(inputs[1].value) };
      });
    }
    const space = { steering_angle: {}, speed: {} };
    continuous.querySelectorAll("[data-range]").forEach((input) => {
      const [key, end] = input.dataset.range.split(".");
      space[key][end] = Number(input.value);
    });
    return space;
  }

  function writeBack() {
    box.value = JSON.stringify(current());
    askClonePlan();
  }

  let planTimer = null;
  function askClonePlan() {
    if (!planBox) return;
    clearTimeout(planTimer);
    planTimer = setTimeout(async () => {
      const response = await fetch(form.dataset.clonePlanUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      const data = await response.json().catch(() => ({}));
      if (data.explanation) {
        planBox.textContent = data.explanation;
        planBox.className = `clone-plan ${data.changes_action_space ? "clone-plan-change" : ""}`;
      } else if (data.errors) {
        const first = Object.values(data.errors)[0];
        planBox.textContent = first && first[0] ? first[0].message : "";
        planBox.className = "clone-plan clone-plan-error";
      }
    }, 300);
  }

  // The JSON box stays available (for pasting a model_metadata.json action space); the table follows it.
  box.addEventListener("change", () => { const space = parse(); if (space !== null) load(space); askClonePlan(); });
  typeSelect.addEventListener("change", () => {
    const preset = typeSelect.value === "continuous" ? presets.continuous : presets.console;
    load(preset.space);
    writeBack();
  });
  editor.querySelector("[data-add-action]").addEventListener("click", () => {
    const last = current().slice(-1)[0] || { steering_angle: 0, speed: 1 };
    addRow({ steering_angle: last.steering_angle, speed: last.speed });
    writeBack();
  });
  continuous.querySelectorAll("input").forEach((input) => input.addEventListener("input", writeBack));
  editor.querySelectorAll("[data-preset]").forEach((button) => {
    button.addEventListener("click", () => { load(presets[button.dataset.preset].space); writeBack(); });
  });
  editor.querySelector("[data-presets]").hidden = false;
  form.querySelectorAll("select, input").forEach((el) => {
    if (el.closest("[data-action-space-editor]")) return;
    el.addEventListener("change", askClonePlan);
  });
  const initial = parse();
  if (initial !== null) load(initial); else showType();
  askClonePlan();
})();
