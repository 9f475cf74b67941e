// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var KEY = "lawkb-large-text";
  var root = document.documentElement;
  // Applied before the body renders (the script is in <head>), so the page does not jump.
  try { if (localStorage.getItem(KEY) === "1") { root.classList.add("large"); } } catch (e) { /* storage off */ }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // The server writes the permalink as a path unless it knows its public address; the browser knows
    // the address it really used.
    var permalink = document.getElementById("permalink");
    if (permalink && permalink.textContent.charAt(0) === "/") { permalink.textContent = permalink.href; }
    var toggle = document.getElementById("large-toggle");
    if (toggle) {
      toggle.setAttribute("aria-pressed", root.classList.contains("large") ? "true" : "false");
      toggle.addEventListener("click", function () {
        var on = root.classList.toggle("large");
        toggle.setAttribute("aria-pressed", on ? "true" : "false");
        try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* storage off */ }
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (btn) {
      btn.addEventListener("click", function () {
        var source = document.querySelector(btn.getAttribute("data-copy"));
        var status = document.getElementById("copy-status");
        var text = source ? (source.value || source.textContent) : "";
        copyText(text).then(function () {
          if (status) { status.textContent = "已复制：" + text; }
        }, function () {
          if (source && source.select) { source.select(); }
          if (status) { status.textContent = "无法自动复制，已选中引用文字，请按 Ctrl+C 复制。"; }
        });
      });
    });
  });
}());
