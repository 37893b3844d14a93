// Starts Swagger UI on this server's own OpenAPI document. Kept out of the page so the
// Content-Security-Policy needs no inline script.
(function () {
  var root = document.getElementById("swagger-ui");
  if (typeof window.SwaggerUIBundle !== "function") {
    root.textContent =
      "The viewer is not installed (build the web app: make run). The document is at /api/openapi.json.";
    return;
  }
  window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Requests made from the page carry the session cookie; state-changing ones need the
    // CSRF token from /api/auth/me in X-CSRF-Token.
    withCredentials: true,
  });
})();
