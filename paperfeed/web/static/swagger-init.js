// Start Swagger UI on /docs. A file of its own, not an inline script, so the page runs
// under the site's Content-Security-Policy (script-src 'self').
"use strict";
// Swagger UI's own dark theme (html.dark-mode), following the system like the rest of the site.
const darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
function followScheme() {
  document.documentElement.classList.toggle("dark-mode", darkScheme.matches);
}
followScheme();
darkScheme.addEventListener("change", followScheme);

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // No deep links: Swagger UI makes each path a link inside the operation's toggle button,
    // and a link nested in a button is out of reach of keyboard and screen-reader users.
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
