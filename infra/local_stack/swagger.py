"""The local stack's /docs page: Swagger UI from the copy aws-lambda-powertools ships (its
event handler serves the same files), so the page needs no network at all. The stack serves
the two files under /docs/; should a Powertools release move them, the page falls back to a
plain list of the operations in /openapi.json rendered with a few lines of JavaScript."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

SWAGGER_UI_PACKAGE = "aws_lambda_powertools.event_handler.openapi.swagger_ui"

# URL path -> (file in SWAGGER_UI_PACKAGE, content type)
ASSETS = {
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "application/javascript; charset=utf-8"),
    "/docs/swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8"),
}


@cache
def _read(file_name: str) -> bytes | None:
    try:
        return resources.files(SWAGGER_UI_PACKAGE).joinpath(file_name).read_bytes()
    except (ModuleNotFoundError, OSError):
        return None


def asset(path: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of a Swagger UI file served under /docs/, or None."""
    if path not in ASSETS:
        return None
    file_name, content_type = ASSETS[path]
    data = _read(file_name)
    return None if data is None else (content_type, data)


# Security scheme (openapi.json) -> the demo session it is filled in with when the local stack
# runs with its demo data (infra/local_stack/demo.json; tests/local/test_docs_browser.py checks
# each is a live session there). Spaaza's privileged bearer stays empty: when present it
# overrides the session, and the user session is what an app sends.
DEMO_AUTH = {
    "thalamusToken": "demo-thalamus-operator-anna",
    "esMember": "demo-es-member-alice",
    "esConsole": "demo-es-console-csr",
    "spaazaSessionUserId": "1001",
    "spaazaSessionKey": "demo-spaaza-user-alice",
}
DEMO_NOTE = (
    '<p id="demo-note">Running with the demo data: the demo credentials are filled in '
    "(operator anna, member alice, CSR csr-1, Spaaza user alice). Press <b>Authorize</b> to see "
    "or change them, then open an operation, <i>Try it out</i> and <i>Execute</i>.</p>"
)


def docs_html(demo: bool) -> str:
    """The /docs page; with the demo data loaded, Swagger UI starts authorized as DEMO_AUTH."""
    if not demo:
        return DOCS_HTML
    auth = json.dumps(DEMO_AUTH).replace("<", "\\u003c")
    return DOCS_HTML.replace("<!--DEMO_NOTE-->", DEMO_NOTE).replace("/*DEMO_AUTH*/{}", auth)


DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Voucher service - API docs (local stack)</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; }
  #fallback { max-width: 960px; margin: 1.5em auto; padding: 0 1em; }
  #fallback h2 { margin-top: 1.5em; }
  .op { border: 1px solid #ccc; border-radius: 4px; margin: .6em 0; padding: .5em .8em; }
  .method { font-weight: bold; display: inline-block; min-width: 4.5em; }
  .params, .responses { font-size: .9em; margin: .3em 0 0 1.2em; }
  #fallback code { background: #f4f4f4; padding: 0 .2em; }
  #demo-note { max-width: 1420px; margin: 0 auto; padding: .8em 20px 0; color: #3b4151; }
</style>
</head>
<body>
<!--DEMO_NOTE-->
<div id="swagger"></div>
<div id="fallback">
  <h1>Voucher service (local stack)</h1>
  <p>Swagger UI could not be loaded from /docs/swagger-ui-bundle.js. Operations from
     <a href="/openapi.json">/openapi.json</a>:</p>
  <div id="ops">loading...</div>
</div>
<script src="/docs/swagger-ui-bundle.js"></script>
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
if (window.SwaggerUIBundle) {
  document.getElementById("fallback").remove();
  // validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io
  var demoAuth = /*DEMO_AUTH*/{};
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json", dom_id: "#swagger", validatorUrl: null,
    onComplete: function () {
      Object.keys(demoAuth).forEach(function (scheme) {
        window.ui.preauthorizeApiKey(scheme, demoAuth[scheme]);
      });
    }
  });
} else {
  fetch("/openapi.json").then(function (r) { return r.json(); }).then(renderFallback).catch(function (e) {
    document.getElementById("ops").textContent = "cannot load /openapi.json: " + e;
  });
}
</script>
</body>
</html>
"""
