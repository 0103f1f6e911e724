// The navigation on a phone or a tablet (below 992 px). pydata-sphinx-theme 0.17 binds its handlers,
// which open the chapter list and the page outline, to the first .primary-toggle and .secondary-toggle
// of the page only: its own navbar's buttons, which sphinx-book-theme hides. The buttons a reader sees
// and presses are the book theme's; each passes its click on to the bound one.
document.addEventListener("DOMContentLoaded", () => {
  for (const name of ["primary-toggle", "secondary-toggle"]) {
    const [bound, ...others] = document.querySelectorAll(`.${name}`);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
});
// A figure opens full size when clicked: a multi-panel figure scaled to the column (or to a phone)
// has small text, and the image file itself is larger than it is shown.
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll("article.bd-article img")) {
    if (img.closest("a")) continue;
    const link = document.createElement("a");
    link.href = img.currentSrc || img.src;
    link.className = "figure-zoom";
    link.title = "Open the figure full size";
    img.replaceWith(link);
    link.appendChild(img);
  }
});
