// The book's browser test (scripts/check-book-browser.sh) opens each chapter with
// `?layout-check`: once KaTeX has run and the images have loaded, this writes what a reader would
// see wrong into <body data-layout-check="…"> (JSON), which the test reads from the DOM.
// Without `?layout-check` it does nothing.
(function () {
  if (!/[?&]layout-check/.test(window.location.search)) {
    return;
  }
  function check() {
    var main = document.querySelector("main") || document.body;
    var problems = [];
    main.querySelectorAll(".katex-error").forEach(function (e) {
      problems.push("KaTeX error: " + (e.getAttribute("title") || e.textContent).slice(0, 160));
    });
    // Raw maths left in the text: a `$` or a TeX command outside code and outside KaTeX's output.
    var walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, null);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest("pre, code, .katex, script, style")) {
        continue;
      }
      var t = node.textContent;
      if (/\$|\\[a-zA-Z]+\{?|\\[,;!]/.test(t)) {
        problems.push("raw maths in the text: " + t.trim().slice(0, 120));
      }
    }
    main.querySelectorAll("img").forEach(function (img) {
      if (!img.complete || img.naturalWidth === 0) {
        problems.push("broken image: " + img.getAttribute("src"));
      }
    });
    // Nothing may stick out of the content column: wide things scroll inside it.
    var column = document.querySelector(".content main") || main;
    var limit = column.getBoundingClientRect().right + 1;
    // Wide blocks may be wider than the column inside, if they scroll; clipped, the reader loses
    // what is cut off (week 8's diagram, week 14's GPU column).
    column.querySelectorAll("pre, table, .katex-display").forEach(function (e) {
      var overflowX = window.getComputedStyle(e).overflowX;
      if (e.scrollWidth > e.clientWidth + 1 && overflowX !== "auto" && overflowX !== "scroll") {
        problems.push("clipped, not scrollable (" + (e.scrollWidth - e.clientWidth) + " px hidden): <" +
          e.tagName.toLowerCase() + "> " + (e.textContent || "").trim().slice(0, 60));
      }
    });
    column.querySelectorAll("*").forEach(function (e) {
      if (e.parentElement && e.parentElement.closest("pre, table, .katex-display")) {
        return; // inside a block that scrolls (checked above): its own width does not count
      }
      if (e.closest(".katex-mathml") || (e.closest("svg") && e.tagName.toLowerCase() !== "svg")) {
        return; // KaTeX's hidden MathML copy, and the insides of an SVG (its box counts)
      }
      var r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > limit) {
        problems.push("sticks out of the column by " + Math.round(r.right - limit) + " px: <" +
          e.tagName.toLowerCase() + "> " + (e.textContent || "").trim().slice(0, 60));
      }
    });
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      problems.push("the page scrolls sideways: " + document.documentElement.scrollWidth +
        " px wide in a " + window.innerWidth + " px window");
    }
    document.body.setAttribute("data-layout-check", JSON.stringify(problems));
  }
  window.addEventListener("load", function () {
    // KaTeX's auto-render runs on DOMContentLoaded; give it and the fonts a moment.
    setTimeout(check, 300);
  });
})();
