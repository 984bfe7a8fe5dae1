// Reward function editor (templates/rewards/reward_version.html): CodeMirror 5 (served locally by
// djangocodemirror) on the source textarea, issue lines marked, "line N" buttons that jump the editor
// there, Ctrl+S to save, a warning before leaving unsaved changes, and the preview's Plotly figures.
(function () {
  "use strict";
  const form = document.querySelector("[data-reward-editor]");
  const textarea = document.querySelector("[data-reward-source]");
  let editor = null;
  if (form && textarea && window.CodeMirror) {
    editor = window.CodeMirror.fromTextArea(textarea, {
      mode: { name: "python", version: 3 }, lineNumbers: true, indentUnit: 4, tabSize: 4,
      indentWithTabs: false, matchBrackets: true, styleActiveLine: true, lineWrapping: false,
      extraKeys: {
        Tab: (cm) => cm.somethingSelected() ? cm.indentSelection("add") : cm.replaceSelection("    ", "end"),
        "Shift-Tab": (cm) => cm.indentSelection("subtract"),
        "Ctrl-S": () => submit("save"), "Cmd-S": () => submit("save"),
      },
    });
    window.rewardEditor = editor;  // for the browser tests and the console
    form.dataset.editorReady = "yes";
  }

  let dirty = false;
  let submitting = false;
  const dirtyNote = document.querySelector("[data-dirty]");
  const markDirty = () => { dirty = true; if (dirtyNote) dirtyNote.hidden = false; };
  if (editor) editor.on("change", markDirty); else if (textarea) textarea.addEventListener("input", markDirty);
  window.addEventListener("beforeunload", (event) => {
    if (dirty && !submitting) { event.preventDefault(); event.returnValue = ""; }
  });

  function submit(action) {
    const button = form.querySelector(`button[name=action][value=${action}]`);
    if (button) { form.requestSubmit ? form.requestSubmit(button) : button.click(); }
  }
  if (form) {
    form.addEventListener("submit", (event) => {
      if (editor) editor.save();
      // Too large to save: say so here rather than send it (the server refuses it too, and a body
      // past Django's upload limit would only get a bare "Bad Request").
      const limit = parseInt(form.dataset.maxBytes || "0", 10);
      const size = new TextEncoder().encode(textarea.value).length;
      if (limit && size > limit) {
        event.preventDefault();
        let note = form.querySelector("[data-size-error]");
        if (!note) {
          note = document.createElement("div");
          note.className = "form-errors";
          note.setAttribute("role", "alert");
          note.dataset.sizeError = "";
          form.prepend(note);
        }
        note.textContent = `The reward function is ${size.toLocaleString("en")} bytes; at most ` +
          `${limit.toLocaleString("en")} bytes (${Math.floor(limit / 1024)} KB) are allowed.`;
        note.scrollIntoView({ block: "nearest" });
        return;
      }
      submitting = true;
      const validating = event.submitter && event.submitter.value === "validate";
      const button = form.querySelector("[data-validate-button]");
      if (validating && button) { button.textContent = "Validating…"; button.setAttribute("aria-busy", "true"); }
    });
  }

  // Issues: mark their lines, and jump there from the "line N" buttons.
  const jumps = Array.from(document.querySelectorAll("[data-jump-line]"));
  if (editor) {
    jumps.forEach((b) => {
      const line = parseInt(b.dataset.jumpLine, 10) - 1;
      if (line >= 0 && line < editor.lineCount()) editor.addLineClass(line, "background", "cm-issue-line");
    });
  }
  let flashed = null;
  jumps.forEach((b) => b.addEventListener("click", () => {
    const line = parseInt(b.dataset.jumpLine, 10) - 1;
    const column = Math.max(0, parseInt(b.dataset.jumpColumn || "0", 10));  // 0-based, as Python reports it
    if (editor) {
      if (flashed !== null) {
        editor.removeLineClass(flashed, "background", "cm-jump-line");
        editor.removeLineClass(flashed, "wrap", "cm-jump-wrap");
      }
      editor.setCursor({ line, ch: column });
      editor.addLineClass(line, "background", "cm-jump-line");
      editor.addLineClass(line, "wrap", "cm-jump-wrap");
      flashed = line;
      editor.scrollIntoView({ line, ch: column }, 120);
      form.scrollIntoView({ behavior: "smooth", block: "start" });
      editor.focus();
    } else if (textarea) {
      const offset = textarea.value.split("\n").slice(0, line).join("\n").length + (line ? 1 : 0);
      textarea.focus();
      textarea.setSelectionRange(offset, offset);
    }
  }));

  // The preview's figures (Plotly is loaded with defer, before this script runs).
  function draw(figureId, selector) {
    const figure = document.getElementById(figureId);
    const plot = document.querySelector(selector);
    if (!figure || !plot || !window.Plotly) return;
    const fig = JSON.parse(figure.textContent);
    window.Plotly.newPlot(plot, fig.data, fig.layout, { responsive: true, displaylogo: false })
      .then(() => { plot.dataset.rendered = "yes"; });
  }
  draw("reward-heatmap-figure", "[data-reward-heatmap]");
  draw("reward-trace-figure", "[data-reward-trace]");
})();
