// Progressive enhancement: votes and saves update in place through the JSON API; the
// feed's date picker goes to the day picked; the search filters start open on wide screens;
// the phone menu closes on Escape or a click elsewhere. Without JavaScript the same forms
// POST (or GET) and the page reloads, and the menu and filters open on a click.
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

  function enhancePage() {
    if (window.matchMedia("(min-width: 40.01rem)").matches) {
      for (const details of document.querySelectorAll("details[data-open-wide]")) details.open = true;
    }
    const picker = document.querySelector(".date-picker");
    const day = picker?.querySelector('input[type="date"]');
    if (day) {
      day.addEventListener("change", () => {
        // Only a whole date within the range: typing a year fires change on every digit.
        const ok = day.value && (!day.min || day.value >= day.min) && (!day.max || day.value <= day.max);
        if (ok && day.value !== day.defaultValue) picker.requestSubmit();
      });
    }
    const menu = document.querySelector("details.menu");
    if (menu) {
      document.addEventListener("click", (event) => {
        if (menu.open && !menu.contains(event.target)) menu.open = false;
      });
      document.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && menu.open) {
          menu.open = false;
          menu.querySelector("summary").focus();
        }
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhancePage);
  else enhancePage();
})();
