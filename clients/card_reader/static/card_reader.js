// The "back to the provider" button when the provider gave no URL: its card page is the
// previous page in the browser's history (no inline script: the page's CSP forbids it).
document.querySelectorAll("[data-history-back]").forEach((button) => {
  button.addEventListener("click", () => history.back());
});
