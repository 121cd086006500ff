/* smartbus · /api/v1/docs: Swagger UI (vendored, no CDN) over this server's OpenAPI document. */
(function () {
  "use strict";
  window.smartbusDocs = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    validatorUrl: null, // never send the document to a third-party validator
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
