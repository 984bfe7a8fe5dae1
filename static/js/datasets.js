// Dataset upload with a progress bar. The zip goes up in chunks of a few MB (the server appends
// them to a file on disk), so a multi-GB log never sits in a server's memory and a dropped chunk
// is simply sent again. The upload id is remembered per file (name, size, modification time) in
// localStorage: choosing the same file again after a failure, a reload or a closed tab asks the
// server how much it has and carries on from there. Without JavaScript the form still posts the
// file in one request.
// The server's answers to a chunk (webapp/datasets/chunked.py): 409 with `received` means "I have
// this much, carry on from there"; 409 with `retry` means another request is writing this upload
// (send again); any other 4xx is a refusal whose `error` is shown as it is, and the unfinished
// upload is then given up (DELETE), so it does not count against the team's quota of open uploads.
(function () {
  "use strict";
  const form = document.querySelector("[data-upload-form]");
  if (!form) return;
  const box = form.querySelector("[data-upload-progress]");
  const bar = form.querySelector("[data-upload-bar]");
  const status = form.querySelector("[data-upload-status]");
  const errorBox = form.querySelector("[data-upload-error]");
  const button = form.querySelector("[data-upload-button]");
  const CHUNK = Number(form.dataset.chunkBytes) || 8 * 1024 * 1024;
  const RETRIES = 3;

  // Binary units, labelled as such (webapp/datasets/sizes.py prints the same): a small file is
  // counted in KiB, not shown as "0.0 MB".
  function size(bytes) {
    if (bytes < 1024) return bytes === 1 ? "1 byte" : `${bytes} bytes`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    for (const unit of units) {
      value /= 1024;
      if (value < 1024 || unit === "TiB") return `${value.toFixed(1)} ${unit}`;
    }
  }

  // A message as one sentence: the server's messages end with their own full stop (or a "?").
  function sentence(text) {
    const trimmed = String(text).trim().replace(/[.\s]+$/, "");
    return /[!?…]$/.test(trimmed) ? trimmed : trimmed + ".";
  }

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
  }

  function setBar(loaded, total) {
    const pct = total ? (100 * loaded) / total : 0;
    bar.style.width = pct.toFixed(1) + "%";
    bar.parentElement.setAttribute("aria-valuenow", String(Math.round(pct)));
    return pct;
  }

  function show(loaded, total) {
    const pct = setBar(loaded, total);
    status.textContent = `Uploading ${size(loaded)} of ${size(total)} (${pct.toFixed(0)} %)`;
  }

  // After a failure the bar shows what the server kept, not what the browser sent: nothing when
  // the upload was refused (the bar is hidden), the confirmed bytes when it can be resumed.
  function stopped(err, total) {
    const kept = err.fatal ? 0 : (err.received || 0);
    if (!kept) {
      setBar(0, total);
      box.hidden = true;
      return;
    }
    const pct = setBar(kept, total);
    status.textContent = `Stopped: the server has ${size(kept)} of ${size(total)} (${pct.toFixed(0)} %)`;
  }

  function uploadId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // One chunk by XHR, so the bar also moves within a chunk.
  function sendChunk(url, blob, offset, total, token) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", token);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.addEventListener("progress", (e) => show(offset + e.loaded, total));
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* an HTML error page */ }
        const message = body.error || `HTTP ${xhr.status}`;
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else if (xhr.status === 409 && typeof body.received === "number") reject({ resync: body.received, message });
        else if (xhr.status >= 500 || (xhr.status === 409 && body.retry)) reject({ fatal: false, message });
        else reject({ fatal: true, message });
      });
      xhr.addEventListener("error", () => reject({ fatal: false, message: "network error" }));
      xhr.send(blob);
    });
  }

  function resumeKey(file) {
    return `pitlane-upload:${form.dataset.chunkUrl}:${file.name}:${file.size}:${file.lastModified}`;
  }

  // The id of an earlier, unfinished upload of this same file and the bytes the server has of it.
  async function earlierUpload(file) {
    const id = localStorage.getItem(resumeKey(file));
    if (!id) return null;
    try {
      const response = await fetch(`${form.dataset.chunkUrl}?${new URLSearchParams({ upload_id: id })}`,
                                   { credentials: "same-origin" });
      const body = await response.json();
      if (response.ok && body.received > 0 && body.received < file.size) return { id, received: body.received };
    } catch (e) { /* start over */ }
    localStorage.removeItem(resumeKey(file));
    return null;
  }

  // Tell the server to drop an upload that will not be resumed (best effort).
  function giveUp(id, token) {
    fetch(`${form.dataset.chunkUrl}?${new URLSearchParams({ upload_id: id })}`,
          { method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": token } }).catch(() => {});
  }

  async function upload(file, name) {
    const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    const earlier = await earlierUpload(file);
    const id = earlier ? earlier.id : uploadId();
    localStorage.setItem(resumeKey(file), id);
    const params = new URLSearchParams({ upload_id: id, total: file.size, filename: file.name, name });
    let offset = earlier ? earlier.received : 0;
    let resyncs = 0;
    if (earlier) {
      show(offset, file.size);
      status.textContent = `Resuming: the server already has ${size(offset)} of ${size(file.size)}`;
      form.dataset.resumedAt = String(offset);
    }
    while (offset < file.size) {
      const blob = file.slice(offset, offset + CHUNK);
      params.set("offset", offset);
      let body;
      for (let attempt = 1; ; attempt++) {
        try {
          body = await sendChunk(`${form.dataset.chunkUrl}?${params}`, blob, offset, file.size, token);
          break;
        } catch (err) {
          if (err.resync !== undefined && resyncs++ < RETRIES) {  // carry on from what the server has
            body = { received: err.resync };
            break;
          }
          if (err.fatal || err.resync !== undefined) {  // the server refused it: give it up, start over next time
            localStorage.removeItem(resumeKey(file));
            giveUp(id, token);
            err.fatal = true;
            throw err;
          }
          if (attempt >= RETRIES) { err.received = offset; throw err; }
          status.textContent = `Connection trouble (${err.message}); retrying…`;
          await new Promise((r) => setTimeout(r, 1000 * attempt));
        }
      }
      if (body.received > offset) resyncs = 0;
      offset = body.received;
      show(offset, file.size);
      if (body.redirect) {
        localStorage.removeItem(resumeKey(file));
        return body;
      }
    }
    throw { message: "The server did not confirm the upload.", received: offset };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const file = form.querySelector("input[type=file]").files[0];
    if (!file || !file.size) { fail("Choose a .zip file first."); return; }
    button.disabled = true;
    box.hidden = false;
    try {
      const body = await upload(file, form.querySelector("[name=name]").value || "");
      status.textContent = "Uploaded. Ingesting…";
      window.location.assign(body.redirect);
    } catch (err) {
      stopped(err, file.size);
      fail(sentence(`The upload failed: ${err.message}`)
           + (err.fatal ? "" : " Choose the same file again to resume it."));
    }
  });
})();
