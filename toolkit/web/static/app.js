// Progressive enhancement only: every page works without this file.
(function () {
  // drag and drop onto the upload form: the dropped file goes into the file input, and is sent
  var form = document.getElementById("upload-form");
  var input = document.getElementById("file");
  if (form && input && window.DataTransfer) {
    ["dragenter", "dragover"].forEach(function (e) {
      form.addEventListener(e, function (ev) { ev.preventDefault(); form.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (e) {
      form.addEventListener(e, function () { form.classList.remove("over"); });
    });
    form.addEventListener("drop", function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer && ev.dataTransfer.files.length) {
        input.files = ev.dataTransfer.files;
        HTMLFormElement.prototype.submit.call(form);   // (a control named "submit" would shadow form.submit)
      }
    });
  }
  // the live count on the dashboard
  var counts = document.getElementById("counts");
  if (counts && window.fetch) {
    var refresh = function () {
      fetch(counts.getAttribute("data-url"), { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (d) {
        if (!d) return;
        counts.querySelectorAll("[data-count]").forEach(function (el) {
          var k = el.getAttribute("data-count");
          var v = k === "total" ? d.total : d.counts[k];
          if (v !== undefined) el.textContent = v;
        });
      }).catch(function () {});
    };
    setInterval(refresh, 10000);
    // a tab in the background has its timers slowed down: catch up as soon as it is looked at again
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
    window.addEventListener("focus", refresh);
  }
})();
