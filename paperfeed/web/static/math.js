// Render $…$ and $$…$$ math in abstracts and comments with the vendored KaTeX.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  if (!window.renderMathInElement) return;
  for (const element of document.querySelectorAll(".math")) {
    window.renderMathInElement(element, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "$", right: "$", display: false },
        { left: "\\(", right: "\\)", display: false },
      ],
      ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
      throwOnError: false,
    });
  }
});
