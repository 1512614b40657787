// Progressive enhancement: votes and saves update in place through the JSON API.
// Without JavaScript the same forms POST and the page reloads.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function send(form, method) {
    const response = await fetch(form.dataset.api, {
      method,
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      window.location = "/login?next=" + encodeURIComponent(location.pathname);
      return null;
    }
    if (!response.ok) throw new Error((await response.json()).error || response.statusText);
    return response.json();
  }

  function setPressed(form, field, on, labels) {
    const button = form.querySelector("button");
    form.querySelector(`input[name="${field}"]`).value = on ? "false" : "true";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.classList.toggle(field === "up" ? "voted" : "saved", on);
    if (labels) button.firstChild.textContent = on ? labels[1] : labels[0];
    else button.title = on ? "Remove your upvote" : "Upvote"; // aria-pressed tells the state
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.dataset.api || !window.fetch) return;
    event.preventDefault();
    const field = form.classList.contains("vote") ? "up" : "saved";
    const on = form.querySelector(`input[name="${field}"]`).value === "true";
    try {
      const result = await send(form, on ? "PUT" : "DELETE");
      if (!result) return;
      if (field === "up") {
        form.querySelector(".count").textContent = result.upvotes;
        setPressed(form, field, result.voted);
      } else {
        setPressed(form, field, result.saved, ["Save", "Saved"]);
      }
    } catch (error) {
      form.submit(); // fall back to the plain form, which shows the error page
    }
  });
})();
