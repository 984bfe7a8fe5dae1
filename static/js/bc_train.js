// The behavioural-cloning training form: show only the fields the chosen network reads. Each such
// field's block carries data-networks (webapp/garage/forms.py NETWORK_FIELDS); without JavaScript
// every field shows, its help says which network reads it, and the server ignores it for the other.
(function () {
  "use strict";
  const form = document.querySelector("[data-train-form]");
  if (!form) return;
  const select = form.querySelector('select[name="architecture"]');
  if (!select) return;

  function show() {
    const network = select.value;
    form.querySelectorAll("[data-networks]").forEach((block) => {
      const reads = block.dataset.networks.split(" ").includes(network);
      block.hidden = !reads;
      block.querySelectorAll("input, select, textarea").forEach((el) => { el.disabled = !reads; });
    });
  }

  select.addEventListener("change", show);
  show();
})();
