//! The OpenAPI 3.1 document, generated from the handlers (`#[utoipa::path]` on each, `ToSchema`
//! on the types they take and return) and the route table in `router.rs`: a route exists in the
//! router exactly when it is in the document (`router::tests::router_and_document_agree`).

use std::sync::OnceLock;

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::ErrorBody;

/// Top-level parts of the document; the paths come from `router::v1`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "vigil node API",
        description = "Events, evidence, cameras and configuration of one vigil node. Paths are \
            relative to the server URL `/api/v1`. Send `Authorization: Bearer <token>` (a token \
            from `POST /auth/login` or `vigil user token`); errors are \
            `{\"error\": {\"code\", \"message\"}}` with the HTTP status. Live changes: \
            `GET /events/stream` (Server-Sent Events)."
    ),
    servers((url = "/api/v1")),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "log in and out, users"),
        (name = "cameras", description = "live status, health rates, thumbnails"),
        (name = "events", description = "alarms and their handling"),
        (name = "evidence", description = "clips and pictures of an event (Range requests)"),
        (name = "live", description = "Server-Sent Events"),
        (name = "audit", description = "the hash-chained audit log"),
        (name = "config", description = "the running configuration and its reload"),
        (name = "metrics", description = "liveness, Prometheus metrics, this document"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document served at `/api/v1/openapi.json`.
pub fn openapi_document() -> serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, doc) = super::router::v1().split_for_parts();
        // Serialising utoipa's own types cannot fail; an empty object would show if it did.
        serde_json::to_value(&doc).unwrap_or_default()
    })
    .clone()
}

/// This document (no token needed).
#[utoipa::path(get, path = "/openapi.json", tag = "metrics", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", body = serde_json::Value)))]
pub(crate) async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}
