// Dataset upload with a progress bar: the form is sent by XHR so upload progress events can move
// the bar; the server streams the file to disk and answers with the dataset page to go to.
(function () {
  "use strict";
  const form = document.querySelector("[data-upload-form]");
  if (!form) return;
  const box = form.querySelector("[data-upload-progress]");
  const bar = form.querySelector("[data-upload-bar]");
  const status = form.querySelector("[data-upload-status]");
  const errorBox = form.querySelector("[data-upload-error]");
  const button = form.querySelector("[data-upload-button]");

  function mb(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const data = new FormData(form);
    const file = data.get("file");
    if (!file || !file.size) { fail("Choose a .zip file first."); return; }
    button.disabled = true;
    box.hidden = false;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const pct = (100 * e.loaded) / e.total;
      bar.style.width = pct.toFixed(1) + "%";
      bar.parentElement.setAttribute("aria-valuenow", String(Math.round(pct)));
      status.textContent = `Uploading ${mb(e.loaded)} of ${mb(e.total)} (${pct.toFixed(0)}%)`;
    });
    xhr.upload.addEventListener("load", () => { status.textContent = "Upload complete; saving…"; });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* an HTML error page */ }
      if (xhr.status >= 200 && xhr.status < 300 && body.redirect) {
        status.textContent = "Uploaded. Ingesting…";
        window.location.assign(body.redirect);
      } else {
        fail(body.error || `The upload failed (HTTP ${xhr.status}).`);
      }
    });
    xhr.addEventListener("error", () => fail("The upload was interrupted (network error)."));
    xhr.send(data);
  });
})();
