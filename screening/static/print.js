// The "print" links of printable pages (public notice): no inline script, so the CSP can forbid it.
document.querySelectorAll("[data-print]").forEach((el) =>
  el.addEventListener("click", (ev) => {
    ev.preventDefault();
    window.print();
  }),
);
