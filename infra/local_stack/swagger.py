"""The local stack's /docs page: Swagger UI when the browser can reach its CDN, otherwise a
plain list of the operations in /openapi.json rendered with a few lines of JavaScript (the
page works offline and needs nothing served besides /openapi.json)."""

from __future__ import annotations

SWAGGER_UI_VERSION = "5.17.14"

DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Voucher service - API docs (local stack)</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@__VERSION__/swagger-ui.css"
      onerror="this.remove()">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; }
  #fallback { max-width: 960px; margin: 1.5em auto; padding: 0 1em; }
  #fallback h2 { margin-top: 1.5em; }
  .op { border: 1px solid #ccc; border-radius: 4px; margin: .6em 0; padding: .5em .8em; }
  .method { font-weight: bold; display: inline-block; min-width: 4.5em; }
  .params, .responses { font-size: .9em; margin: .3em 0 0 1.2em; }
  code { background: #f4f4f4; padding: 0 .2em; }
</style>
</head>
<body>
<div id="swagger"></div>
<div id="fallback">
  <h1>Voucher service (local stack)</h1>
  <p>Swagger UI could not be loaded (offline?). Operations from
     <a href="/openapi.json">/openapi.json</a>:</p>
  <div id="ops">loading...</div>
</div>
<script>
function esc(s) {
  return String(s === undefined || s === null ? "" : s).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
  });
}
function renderFallback(doc) {
  var html = "";
  Object.keys(doc.paths || {}).sort().forEach(function (path) {
    var item = doc.paths[path];
    Object.keys(item).forEach(function (method) {
      var op = item[method];
      if (!op || !op.responses) { return; }
      html += '<div class="op"><span class="method">' + esc(method.toUpperCase()) +
        "</span> <code>" + esc(path) + "</code> - " + esc(op.summary) +
        " <em>[" + esc((op.tags || []).join(", ")) + "]</em>";
      var params = (op.parameters || []).map(function (p) {
        return "<code>" + esc(p.name) + "</code> (" + esc(p.in) + (p.required ? ", required" : "") + ")";
      });
      if (params.length) { html += '<div class="params">Parameters: ' + params.join(", ") + "</div>"; }
      var responses = Object.keys(op.responses).map(function (code) {
        return "<code>" + esc(code) + "</code> " + esc(op.responses[code].description);
      });
      html += '<div class="responses">Responses: ' + responses.join("; ") + "</div></div>";
    });
  });
  document.getElementById("ops").innerHTML = html || "no operations";
}
fetch("/openapi.json").then(function (r) { return r.json(); }).then(renderFallback).catch(function (e) {
  document.getElementById("ops").textContent = "cannot load /openapi.json: " + e;
});
function startSwagger() {
  if (!window.SwaggerUIBundle) { return; }
  document.getElementById("fallback").style.display = "none";
  window.SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger"});
}
</script>
<script src="https://unpkg.com/swagger-ui-dist@__VERSION__/swagger-ui-bundle.js"
        onload="startSwagger()" async></script>
</body>
</html>
""".replace("__VERSION__", SWAGGER_UI_VERSION)
